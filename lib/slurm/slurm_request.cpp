#include <kcr/slurm_request.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <kcr/util/status_format.h>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

namespace kcr::slurm {

namespace {

constexpr std::uint32_t kStepBatch = 0xfffffffbU;
constexpr size_t kMaxLine = 8192;

std::optional<std::uint32_t> ParseU32(std::string_view s) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

std::optional<std::uint32_t> ParseStep(std::string_view s) {
  if (s == "batch")
    return kStepBatch;
  return ParseU32(s);
}

std::string StepName(std::uint32_t step) {
  return step == kStepBatch ? "batch" : std::to_string(step);
}

}  // namespace

std::optional<JobStep> ParseJobStep(std::string_view text) {
  JobStep js;
  size_t dot = text.find('.');
  auto job = ParseU32(text.substr(0, dot));
  if (!job || *job == 0)
    return std::nullopt;
  js.job = *job;
  if (dot != std::string_view::npos) {
    js.step = ParseStep(text.substr(dot + 1));
    if (!js.step)
      return std::nullopt;
  }
  return js;
}

std::string SocketPath(std::string_view spool_dir, std::uint32_t job, std::uint32_t step) {
  return fmt::format("{}/{}.{}.sock", spool_dir, job, StepName(step));
}

std::string Message::Get(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key)
      return v;
  }
  return {};
}

std::optional<std::int64_t> Message::GetInt(std::string_view key) const {
  std::string v = Get(key);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size())
    return std::nullopt;
  return n;
}

Message ParseMessage(std::string_view line) {
  Message m;
  size_t sp = line.find(' ');
  m.verb = std::string(line.substr(0, sp));
  if (sp == std::string_view::npos)
    return m;
  std::string_view rest = line.substr(sp + 1);
  while (!rest.empty()) {
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos)
      break;
    std::string key(rest.substr(0, eq));
    rest = rest.substr(eq + 1);
    // The reason and the image are always last and may hold spaces and '='.
    if (key == field::kReason || key == field::kImage) {
      m.fields.emplace_back(key, std::string(rest));
      break;
    }
    size_t next = rest.find(' ');
    m.fields.emplace_back(key, std::string(rest.substr(0, next)));
    if (next == std::string_view::npos)
      break;
    rest = rest.substr(next + 1);
  }
  return m;
}

std::string FormatMessage(std::string_view verb, const Fields& fields) {
  std::string line(verb);
  for (const auto& [k, v] : fields) {
    std::string value = v;
    // One request, one line: a newline inside a reason would split it.
    std::replace(value.begin(), value.end(), '\n', ' ');
    line += fmt::format(" {}={}", k, value);
  }
  return line;
}

LineSocket::LineSocket(LineSocket&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)) {}

LineSocket& LineSocket::operator=(LineSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    buffer_ = std::move(o.buffer_);
  }
  return *this;
}

LineSocket::~LineSocket() {
  if (fd_ >= 0)
    ::close(fd_);
}

Status LineSocket::Connect(const std::string& path, LineSocket* out) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Errorf(ENAMETOOLONG, "socket path {} is too long", path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  LineSocket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid())
    return SysError("socket");
  if (::connect(s.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return SysError("connecting to {}", path);
  }
  *out = std::move(s);
  return Status::Ok();
}

Status LineSocket::Send(std::string_view line) {
  std::string data(line);
  data += '\n';
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return SysError("sending a request");
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status LineSocket::Receive(std::chrono::milliseconds timeout, std::optional<std::string>* line) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return Status::Ok();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Status::Error(ETIMEDOUT, "no answer in time");
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return SysError("waiting for an answer");
    if (r == 0)
      continue;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return SysError("reading an answer");
    if (n == 0) {
      line->reset();
      return Status::Ok();
    }
    buffer_.append(buf, static_cast<size_t>(n));
    if (buffer_.size() > kMaxLine && buffer_.find('\n') == std::string::npos) {
      return Status::Error(EMSGSIZE, "answer line too long");
    }
  }
}

bool LineSocket::Pump(std::vector<std::string>* lines) {
  for (;;) {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return false;
      break;
    }
    if (n == 0) {
      // Complete lines before the end still count.
      for (size_t nl; (nl = buffer_.find('\n')) != std::string::npos; buffer_.erase(0, nl + 1)) {
        lines->push_back(buffer_.substr(0, nl));
      }
      return false;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    if (buffer_.size() > kMaxLine && buffer_.find('\n') == std::string::npos)
      return false;
  }
  for (size_t nl; (nl = buffer_.find('\n')) != std::string::npos; buffer_.erase(0, nl + 1)) {
    lines->push_back(buffer_.substr(0, nl));
  }
  return true;
}

namespace {

// The steps of `job` with an agent on this node, from the spool directory.
std::vector<std::uint32_t> LocalSteps(std::string_view spool_dir, std::uint32_t job) {
  std::vector<std::uint32_t> steps;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(std::string(spool_dir).c_str()), ::closedir);
  if (!dir)
    return steps;
  std::string prefix = fmt::format("{}.", job);
  while (dirent* e = ::readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (!name.starts_with(prefix) || !name.ends_with(".sock"))
      continue;
    name.remove_prefix(prefix.size());
    name.remove_suffix(5);
    if (auto step = ParseStep(name))
      steps.push_back(*step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

Status AskOneStep(std::string_view spool_dir, std::uint32_t job, std::uint32_t step,
                  std::chrono::seconds timeout, std::vector<TaskResult>* results) {
  std::string path = SocketPath(spool_dir, job, step);
  LineSocket s;
  Status st = LineSocket::Connect(path, &s);
  if (!st.ok()) {
    return st.With(
        fmt::format("job step {}.{} has no kcr agent on this node (is it running "
                    "here, with --checkpoint?)",
                    job, StepName(step)));
  }
  KCR_RETURN_IF_ERROR(s.Send(verb::kCheckpoint));
  for (;;) {
    std::optional<std::string> line;
    KCR_RETURN_IF_ERROR(
        s.Receive(std::chrono::duration_cast<std::chrono::milliseconds>(timeout), &line)
            .With(fmt::format("job step {}.{}", job, StepName(step))));
    if (!line) {
      return Errorf(EPIPE, "job step {}.{}: the agent closed the connection", job, StepName(step));
    }
    Message m = ParseMessage(*line);
    if (m.verb == verb::kDone)
      return Status::Ok();
    if (m.verb == verb::kError) {
      return Errorf(EPERM, "job step {}.{}: {}", job, StepName(step), m.Get(field::kReason));
    }
    if (m.verb != verb::kOk && m.verb != verb::kFailed)
      continue;  // newer agents may say more
    TaskResult r;
    r.job = job;
    r.step = step;
    r.task = static_cast<std::uint32_t>(m.GetInt(field::kTask).value_or(0));
    r.ok = m.verb == verb::kOk;
    r.checkpoint_id = m.GetInt(field::kId).value_or(0);
    r.bytes = static_cast<std::uint64_t>(m.GetInt(field::kBytes).value_or(0));
    r.ms = static_cast<std::uint64_t>(m.GetInt(field::kMs).value_or(0));
    r.image = m.Get(field::kImage);
    r.reason = m.Get(field::kReason);
    results->push_back(std::move(r));
  }
}

}  // namespace

Status RequestCheckpoint(std::string_view spool_dir, const JobStep& target,
                         std::chrono::seconds timeout, std::vector<TaskResult>* results) {
  std::vector<std::uint32_t> steps;
  if (target.step) {
    steps.push_back(*target.step);
  } else {
    steps = LocalSteps(spool_dir, target.job);
    if (steps.empty()) {
      return Errorf(ESRCH,
                    "job {} has no step with a kcr agent on this node (it must "
                    "run here and have been submitted with --checkpoint)",
                    target.job);
    }
  }
  for (std::uint32_t step : steps) {
    KCR_RETURN_IF_ERROR(AskOneStep(spool_dir, target.job, step, timeout, results));
  }
  return Status::Ok();
}

}  // namespace kcr::slurm

extern "C" int kcr_spank_request_checkpoint(const char* job_step, const char* spool_dir,
                                            int timeout_seconds, char* out, std::size_t out_len) {
  using namespace kcr::slurm;
  std::string text;
  int rc = 0;
  auto target = ParseJobStep(job_step ? job_step : "");
  if (!target) {
    text = fmt::format("'{}' is not JOBID or JOBID.STEP", job_step ? job_step : "");
    rc = -EINVAL;
  } else {
    std::vector<TaskResult> results;
    kcr::Status st = RequestCheckpoint(
        spool_dir && *spool_dir ? spool_dir : kDefaultSpoolDir, *target,
        std::chrono::seconds(timeout_seconds > 0 ? timeout_seconds : 600), &results);
    if (!st.ok()) {
      text = st.message();
      rc = st.code();
    } else {
      for (const TaskResult& r : results) {
        std::string step = r.step == 0xfffffffbU ? "batch" : std::to_string(r.step);
        if (r.ok) {
          text += fmt::format("{}.{} task {}: ok id={} bytes={} ms={} image={}\n", r.job, step,
                              r.task, r.checkpoint_id, r.bytes, r.ms, r.image);
        } else {
          text += fmt::format("{}.{} task {}: failed: {}\n", r.job, step, r.task, r.reason);
          rc = 1;
        }
      }
    }
  }
  if (out && out_len) {
    size_t n = std::min(text.size(), out_len - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
  }
  return rc;
}
