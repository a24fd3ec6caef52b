#include "kcr/catalog/image_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kcr/util/image_files.h"

namespace kcr::catalog {

namespace {

using json = nlohmann::json;

constexpr int kFormat = 1;
// A record is a few hundred bytes; anything far larger is not one.
constexpr std::uintmax_t kMaxRecordBytes = 64 * 1024;

template <typename T>
void PutOptional(json& j, const char* key, const std::optional<T>& v) {
  if (v)
    j[key] = *v;
}

template <typename T>
std::optional<T> GetOptional(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return std::nullopt;
  return it->get<T>();
}

// A record file: uid's own regular file, not a symlink, read to at most
// kMaxRecordBytes (a FIFO or /proc file swapped in neither blocks nor
// floods the agent).
bool ReadRecordFile(const std::string& path, std::uint32_t uid, std::string* text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && util::ImageOwnedOnlyBy(st, uid) &&
            static_cast<std::uintmax_t>(st.st_size) <= kMaxRecordBytes;
  text->clear();
  char buf[4096];
  while (ok) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    text->append(buf, static_cast<size_t>(n));
    ok = text->size() <= kMaxRecordBytes;
  }
  ::close(fd);
  return ok;
}

// The image is uid's (a file, or a tree image's directory; never a
// symlink) and has exactly the recorded size.
bool ImageWhole(const std::string& image, std::uint32_t uid, std::uint64_t bytes) {
  struct stat st;
  std::uint64_t now = 0;
  return ::lstat(image.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
         util::ImageOwnedOnlyBy(st, uid) && util::ImageBytes(image, &now) && now == bytes;
}

// The record at image_path + ".json", describing that image (whatever
// path it names: an image is where its record is).
bool ReadRecordOf(const std::string& image_path, std::uint32_t uid, CheckpointRow* row,
                  std::vector<std::string>* members) {
  std::string text;
  if (!ReadRecordFile(ImageRecordPath(image_path), uid, &text) ||
      !ParseImageRecord(text, row, members)) {
    return false;
  }
  row->info.image_path = image_path;
  return true;
}

// Paths compared as paths: "/x//a" is "/x/a".
std::string Normal(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

}  // namespace

std::string ImageRecordPath(const std::string& image_path) {
  return util::ImageRecordPath(image_path);
}

std::string FormatImageRecord(const CheckpointRow& row, const std::vector<std::string>& members) {
  const CheckpointInfo& i = row.info;
  json j = {
      {"format", kFormat},
      {"job", i.job_id},
      {"partition", i.partition},
      {"restart", i.restart_count},
      {"step", i.step_id},
      {"task", i.task},
      {"node", i.node},
      {"pid", i.pid},
      {"uid", i.uid},
      {"user", i.user},
      {"image", i.image_path},
      {"trigger", std::string(ToString(i.trigger))},
      {"kcr_version", i.kcr_version},
      {"kernel_release", i.kernel_release},
      {"created_ns", row.created_ns()},
      {"state", std::string(ToString(row.state))},
      {"bytes", row.bytes},
      {"checksum", row.checksum},
      {"freeze_ns", row.freeze_ns},
      {"write_ns", row.write_ns},
      {"set", members},
  };
  PutOptional(j, "array_job", i.array_job_id);
  PutOptional(j, "array_task", i.array_task_id);
  PutOptional(j, "committed_ns", row.committed_ns);
  PutOptional(j, "verified_ns", row.verified_ns);
  return j.dump(1) + "\n";
}

bool ParseImageRecord(const std::string& text, CheckpointRow* row,
                      std::vector<std::string>* members) {
  try {
    const json j = json::parse(text);
    if (!j.is_object() || j.at("format").get<int>() != kFormat)
      return false;
    CheckpointRow r;
    CheckpointInfo& i = r.info;
    i.job_id = j.at("job").get<std::uint32_t>();
    i.array_job_id = GetOptional<std::uint32_t>(j, "array_job");
    i.array_task_id = GetOptional<std::uint32_t>(j, "array_task");
    i.partition = j.at("partition").get<std::string>();
    i.restart_count = j.at("restart").get<std::uint32_t>();
    i.step_id = j.at("step").get<std::uint32_t>();
    i.task = j.at("task").get<std::uint32_t>();
    i.node = j.at("node").get<std::string>();
    i.pid = j.at("pid").get<std::int32_t>();
    i.uid = j.at("uid").get<std::uint32_t>();
    i.user = j.at("user").get<std::string>();
    i.image_path = j.at("image").get<std::string>();
    auto trigger = ParseTrigger(j.at("trigger").get<std::string>());
    auto state = ParseState(j.at("state").get<std::string>());
    if (!trigger || !state)
      return false;
    i.trigger = *trigger;
    r.state = *state;
    i.kcr_version = j.at("kcr_version").get<std::string>();
    i.kernel_release = j.at("kernel_release").get<std::string>();
    i.created_ns = j.at("created_ns").get<std::int64_t>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    r.checksum = j.at("checksum").get<std::uint64_t>();
    r.freeze_ns = j.at("freeze_ns").get<std::uint64_t>();
    r.write_ns = j.at("write_ns").get<std::uint64_t>();
    r.committed_ns = GetOptional<std::int64_t>(j, "committed_ns");
    r.verified_ns = GetOptional<std::int64_t>(j, "verified_ns");
    std::vector<std::string> set = j.at("set").get<std::vector<std::string>>();
    if (set.empty())
      return false;
    r.set_size = static_cast<std::uint32_t>(set.size());
    *row = std::move(r);
    *members = std::move(set);
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

Status WriteImageRecord(const CheckpointRow& row, const std::vector<std::string>& set_members) {
  const std::string path = ImageRecordPath(row.info.image_path);
  const std::string text = FormatImageRecord(row, set_members);
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return Status::Error(
        errno, fmt::format("writing the image record {}: {}", path, std::strerror(errno)));
  int err = 0;
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    err = errno ? errno : EIO;
  }
  if (::close(fd) != 0 && !err)
    err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return Status::Error(err,
                         fmt::format("writing the image record {}: {}", path, std::strerror(err)));
  }
  return Status::Ok();
}

Status ReadImageRecords(const std::string& dir, std::uint32_t job_id, std::uint32_t step_id,
                        std::uint32_t task, std::uint32_t uid, std::vector<CheckpointRow>* rows) {
  rows->clear();
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return Status::Ok();
    return Status::Error(ec.value(),
                         fmt::format("reading the image directory {}: {}", dir, ec.message()));
  }
  const std::string suffix = util::ImageRecordPath("");
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= suffix.size() || !name.ends_with(suffix))
      continue;
    const std::string image =
        Normal(entry.path().string().substr(0, entry.path().string().size() - suffix.size()));
    CheckpointRow row;
    std::vector<std::string> members;
    if (!ReadRecordOf(image, uid, &row, &members))
      continue;
    if (row.info.job_id != job_id || row.info.step_id != step_id || row.info.task != task ||
        row.info.uid != uid || (row.state != State::kCommitted && row.state != State::kVerified) ||
        !ImageWhole(image, uid, row.bytes)) {
      continue;
    }
    for (std::string& m : members)
      m = Normal(m);
    // Every other member: recorded as one of the same set, and whole.
    bool whole = std::find(members.begin(), members.end(), image) != members.end();
    for (const std::string& m : members) {
      if (!whole || m == image)
        continue;
      CheckpointRow other;
      std::vector<std::string> theirs;
      whole = ReadRecordOf(m, uid, &other, &theirs);
      for (std::string& t : theirs)
        t = Normal(t);
      whole = whole && theirs == members && other.info.job_id == job_id &&
              other.info.step_id == step_id && ImageWhole(m, uid, other.bytes);
    }
    if (whole)
      rows->push_back(std::move(row));
  }
  std::sort(rows->begin(), rows->end(), [](const CheckpointRow& a, const CheckpointRow& b) {
    return a.created_ns() != b.created_ns() ? a.created_ns() > b.created_ns()
                                            : a.info.image_path > b.info.image_path;
  });
  return Status::Ok();
}

}  // namespace kcr::catalog
