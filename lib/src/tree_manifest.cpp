#include "tree_manifest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include <kcr/unique_fd.h>
#include <kcr/util/status_format.h>

namespace kcr {

namespace {

using Json = nlohmann::json;

// A name inside the tree image: no directories, nothing hidden.
bool PlainName(const std::string& name) {
  return !name.empty() && name.size() < 64 && name.find('/') == std::string::npos && name[0] != '.';
}

Status Bad(const std::string& dir, const std::string& what) {
  return Errorf(EBADMSG, "corrupt tree image {}: {}", dir, what);
}

// A wait status a process can be made to end with again: an exit, or a
// signal whose default action ends the process (not one that stops it or
// is ignored).
bool EndingStatus(int status) {
  if (WIFEXITED(status))
    return (status & 0xff) == 0 && status >= 0 && status <= 0xff00;
  if (!WIFSIGNALED(status) || (status & ~0xff))
    return false;
  switch (WTERMSIG(status)) {
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
      return false;
  }
  return WTERMSIG(status) >= 1 && WTERMSIG(status) <= 64;
}

}  // namespace

Status ReadTreeFile(const std::string& path, uint64_t max_bytes, std::string* out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
    return SysError("reading {}", path);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > max_bytes)
    return Errorf(EBADMSG, "corrupt tree image: {} is not a file of at most {} bytes", path,
                  max_bytes);
  out->assign(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::read(fd.get(), out->data() + done, out->size() - done);
    if (n <= 0)
      return n < 0 ? SysError("reading {}", path)
                   : Errorf(EBADMSG, "corrupt tree image: {} shrank while read", path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteTreeManifest(const std::string& dir, const TreeManifest& m) {
  Json processes = Json::array();
  for (const TreeProcess& p : m.processes) {
    Json j = {{"pid", p.pid}, {"parent", p.parent}, {"pgid", p.pgid}, {"sid", p.sid}};
    if (p.zombie)
      j["zombie_wait_status"] = p.wait_status;
    else
      j["image"] = p.image;
    processes.push_back(std::move(j));
  }
  Json pipes = Json::array();
  for (const TreePipe& p : m.pipes) {
    pipes.push_back({{"ino", p.ino},
                     {"capacity", p.capacity},
                     {"data", p.data},
                     {"bytes", p.bytes},
                     {"xxh64", p.checksum}});
  }
  Json shared = Json::array();
  for (const TreeSharedMemory& sm : m.shared_memory) {
    shared.push_back(
        {{"start", sm.start}, {"end", sm.end}, {"processes", sm.processes}, {"from", sm.from}});
  }
  Json doc = {{"kcr_tree", kTreeFormat},
              {"processes", processes},
              {"pipes", pipes},
              {"shared_memory", shared}};
  const std::string text = doc.dump(1) + "\n";
  const std::string path = dir + "/" + kTreeManifest;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid() ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    return SysError("writing {}", path);
  }
  return Status::Ok();
}

Status ReadTreeManifest(const std::string& dir, TreeManifest* out) {
  std::string text;
  KCR_RETURN_IF_ERROR(ReadTreeFile(dir + "/" + kTreeManifest, 8u << 20, &text));
  TreeManifest m;
  try {
    Json doc = Json::parse(text);
    if (doc.at("kcr_tree").get<int>() != kTreeFormat) {
      return Errorf(EPROTONOSUPPORT,
                    "tree image {} has format {}; this kcr reads format {}: use the kcr that "
                    "wrote it",
                    dir, doc.at("kcr_tree").get<int>(), kTreeFormat);
    }
    const Json& processes = doc.at("processes");
    if (!processes.is_array() || processes.empty() || processes.size() > kMaxTreeProcesses)
      return Bad(dir, "no processes, or too many");
    std::set<pid_t> pids;
    for (const Json& j : processes) {
      TreeProcess p;
      p.pid = j.at("pid").get<pid_t>();
      p.parent = j.at("parent").get<int>();
      p.pgid = j.at("pgid").get<pid_t>();
      p.sid = j.at("sid").get<pid_t>();
      if (j.contains("zombie_wait_status")) {
        p.zombie = true;
        p.wait_status = j.at("zombie_wait_status").get<int>();
        if (!EndingStatus(p.wait_status))
          return Bad(dir, fmt::format("the wait status of zombie {}", p.pid));
      } else {
        p.image = j.at("image").get<std::string>();
        if (!PlainName(p.image))
          return Bad(dir, "a process's image name");
      }
      // pid 1 is the restore's init; the parent comes first (creation order).
      const int index = static_cast<int>(m.processes.size());
      if (p.pid <= 1 || p.pid >= (1 << 22) || !pids.insert(p.pid).second)
        return Bad(dir, fmt::format("process id {}", p.pid));
      if ((index == 0) != (p.parent < 0) || p.parent >= index ||
          (p.parent >= 0 && m.processes[static_cast<size_t>(p.parent)].zombie)) {
        return Bad(dir, fmt::format("the parent of process {}", p.pid));
      }
      if (p.pgid < 0 || p.sid < 0 || (index == 0 && p.zombie))
        return Bad(dir, fmt::format("process {}", p.pid));
      m.processes.push_back(std::move(p));
    }
    const Json& pipes = doc.at("pipes");
    if (!pipes.is_array() || pipes.size() > 4 * kMaxTreeProcesses)
      return Bad(dir, "pipes");
    std::set<uint64_t> inos;
    for (const Json& j : pipes) {
      TreePipe p;
      p.ino = j.at("ino").get<uint64_t>();
      p.capacity = j.at("capacity").get<uint32_t>();
      p.data = j.at("data").get<std::string>();
      p.bytes = j.at("bytes").get<uint64_t>();
      p.checksum = j.at("xxh64").get<uint64_t>();
      if (!PlainName(p.data) || !inos.insert(p.ino).second || p.capacity < 4096 ||
          p.capacity > (1u << 30) || p.bytes > p.capacity) {
        return Bad(dir, fmt::format("pipe {}", p.ino));
      }
      m.pipes.push_back(std::move(p));
    }
    if (doc.contains("shared_memory")) {
      const Json& shared = doc.at("shared_memory");
      if (!shared.is_array() || shared.size() > kMaxTreeProcesses)
        return Bad(dir, "shared memory");
      for (const Json& j : shared) {
        TreeSharedMemory sm;
        sm.start = j.at("start").get<uint64_t>();
        sm.end = j.at("end").get<uint64_t>();
        sm.processes = j.at("processes").get<std::vector<int>>();
        sm.from = j.at("from").get<int>();
        const auto live = [&](int i) {
          return i >= 0 && static_cast<size_t>(i) < m.processes.size() &&
                 !m.processes[static_cast<size_t>(i)].zombie;
        };
        if (sm.start % 4096 || sm.end % 4096 || sm.start >= sm.end || sm.end > (1ULL << 47) ||
            sm.processes.size() < 2 ||
            !std::all_of(sm.processes.begin(), sm.processes.end(), live) ||
            std::find(sm.processes.begin(), sm.processes.end(), sm.from) == sm.processes.end()) {
          return Bad(dir, "shared memory");
        }
        m.shared_memory.push_back(std::move(sm));
      }
    }
  } catch (const Json::exception& e) {
    return Bad(dir, fmt::format("tree.json: {}", e.what()));
  }
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace kcr
