// kcr catalog: what checkpoints exist, whether their images are whole, and
// which ones retention removes (docs/catalog.md).
//
// Permissions are a policy of this command, not of SQLite: root (or the
// owner of the catalog file) sees every row; anyone else opens the catalog
// read-only and sees only rows with their own uid.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <kcr/catalog/catalog.h>
#include <kcr/catalog/format.h>
#include <kcr/catalog/retention.h>
#include <kcr/config/config.h>
#include <kcr/util/clock.h>
#include <kcr/util/host.h>
#include <kcr/util/units.h>

#include <kcr/image_check.h>
#include <kcr/tree.h>
#include "catalog_record.h"
#include "cli_config.h"
#include "commands.h"

namespace kcr::cli {

namespace {

namespace cat = kcr::catalog;
using util::NowNs;

constexpr int kExitProblem = 1;  // a bad image, or nothing found
constexpr int kExitError = 2;    // could not do what was asked

[[noreturn]] void Die(int status, const std::string& message) {
  std::fprintf(stderr, "kcr catalog: %s\n", message.c_str());
  throw Exit{status};
}

// Ends the subcommand with exit status 2 and the message of a Status that
// is not ok: how the libraries' errors reach the user.
void OrDie(const Status& st) {
  if (!st.ok()) {
    Die(kExitError, st.message());
  }
}

// Runs a subcommand; anything the C++ library throws (out of memory, ...)
// becomes one message and exit status 2 too.
template <typename Body>
void Guarded(Body&& body) {
  try {
    body();
  } catch (const Exit&) {
    throw;
  } catch (const std::exception& e) {
    Die(kExitError, e.what());
  }
}

// kcr.yaml; a broken one ends the subcommand with its message.
const config::Config& SiteConfig() {
  const config::Config* config = nullptr;
  if (Status st = LoadedConfig(&config); !st.ok()) {
    Die(kExitError, st.message());
  }
  return *config;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

// ---- options shared by the subcommands ----

struct Common {
  std::string catalog_path;  // --catalog, else catalog_path from kcr.yaml
  std::string format = "table";
};

std::string CatalogPath(const Common& c) {
  return c.catalog_path.empty() ? SiteConfig().catalog_path : c.catalog_path;
}

cat::Format FormatOf(const Common& c) {
  return cat::ParseFormat(c.format).value();
}

// Who asks decides which rows they see.
struct Caller {
  std::uint32_t uid = 0;
  bool admin = false;  // root, or the owner of the catalog file

  std::optional<std::uint32_t> UidFilter() const {
    return admin ? std::nullopt : std::optional(uid);
  }
  bool MaySee(const cat::CheckpointRow& row) const { return admin || row.info.uid == uid; }
};

Caller CallerOf(const std::string& path) {
  Caller c;
  c.uid = static_cast<std::uint32_t>(::getuid());
  struct stat st {};
  c.admin = ::geteuid() == 0 || (::stat(path.c_str(), &st) == 0 && st.st_uid == ::geteuid());
  return c;
}

using CatalogPtr = std::unique_ptr<cat::Catalog>;

// Readers who own the file open it writable, so that an old schema gets
// migrated; everyone else reads without taking any lock that blocks writers.
Status OpenForReading(const std::string& path, const Caller& caller, CatalogPtr* catalog) {
  cat::OpenOptions ro;
  ro.read_only = true;
  std::error_code ec;
  if (!caller.admin || !std::filesystem::exists(path, ec)) {
    return cat::Catalog::Open(path, ro, catalog);  // a query never creates a catalog
  }
  Status st = cat::Catalog::Open(path, {}, catalog);
  if (st.code() == -EACCES) {
    return cat::Catalog::Open(path, ro, catalog);  // e.g. root on a read-only mount
  }
  return st;
}

// For verify and prune, which change rows: only rebuild creates a catalog.
Status OpenForWriting(const std::string& path, CatalogPtr* catalog) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    cat::OpenOptions ro;
    ro.read_only = true;
    return cat::Catalog::Open(path, ro, catalog);  // fails: "no catalog at ..."
  }
  return cat::Catalog::Open(path, {}, catalog);
}

void AddCommon(CLI::App* sub, const std::shared_ptr<Common>& common, bool with_format) {
  sub->add_option("--catalog", common->catalog_path,
                  "catalog file (default: catalog_path in kcr.yaml)");
  if (with_format) {
    sub->add_option("--format", common->format, "output: table, json, csv or parsable ('|')")
        ->check(CLI::IsMember({"table", "json", "csv", "parsable"}));
  }
}

// ---- parsing arguments ----

struct JobSpec {
  std::uint32_t job = cat::kManualJob;
  std::optional<std::uint32_t> step;
};

// "1234", "1234.0", "1234.batch" or "manual".
JobSpec ParseJob(const std::string& text) {
  JobSpec spec;
  std::string job = text.substr(0, text.find('.'));
  if (job != "manual") {
    auto id = cat::ParseStep(job);  // a plain number, as far as the job goes
    if (!id || *id == 0 || job.find_first_not_of("0123456789") != std::string::npos) {
      Die(kExitError, fmt::format("--job {}: expected a Slurm job id (1234), a job step "
                                  "(1234.0, 1234.batch) or 'manual'",
                                  text));
    }
    spec.job = *id;
  }
  if (auto dot = text.find('.'); dot != std::string::npos) {
    spec.step = cat::ParseStep(text.substr(dot + 1));
    if (!spec.step) {
      Die(kExitError, fmt::format("--job {}: '{}' is not a step (a number, batch, extern or "
                                  "interactive)",
                                  text, text.substr(dot + 1)));
    }
  }
  return spec;
}

std::vector<cat::State> ParseStates(const std::string& text) {
  if (text.empty()) {  // the default: everything that still exists
    std::vector<cat::State> out;
    for (cat::State s : cat::kAllStates) {
      if (s != cat::State::kDeleted) {
        out.push_back(s);
      }
    }
    return out;
  }
  if (text == "all") {
    return {};
  }
  std::vector<cat::State> out;
  std::stringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    auto s = cat::ParseState(part);
    if (!s) {
      Die(kExitError, fmt::format("--state {}: '{}' is not a state (WRITING, COMMITTED, "
                                  "VERIFIED, FAILED, CORRUPT, EXPIRED, DELETED, or all)",
                                  text, part));
    }
    out.push_back(*s);
  }
  return out;
}

// "2024-05-01", "2024-05-01T12:00[:00]" in local time, or a duration ago ("2h").
std::int64_t ParseSince(const std::string& text) {
  if (auto d = config::ParseDuration(text)) {
    return NowNs() - std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
  }
  for (const char* f :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), f, &tm);
    if (end != nullptr && *end == '\0') {
      tm.tm_isdst = -1;
      return static_cast<std::int64_t>(std::mktime(&tm)) * 1'000'000'000;
    }
  }
  Die(kExitError, fmt::format("--since {}: expected a date (2024-05-01), a local time "
                              "(2024-05-01T12:00) or a duration ago (90m, 2h, 7d)",
                              text));
}

std::uint32_t ParseUser(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<std::uint32_t>(std::stoul(text));
  }
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwnam_r(text.c_str(), &pw, buf, sizeof buf, &found) != 0 || found == nullptr) {
    Die(kExitError, fmt::format("--user {}: no such user on this node", text));
  }
  return found->pw_uid;
}

// ---- list ----

struct ListOptions : Common {
  std::string job, user, state, since;
  std::optional<std::uint32_t> task;
  std::size_t limit = 0;
};

void RunList(const ListOptions& o) {
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  cat::ListFilter f;
  if (!o.job.empty()) {
    JobSpec spec = ParseJob(o.job);
    f.job = spec.job;
    f.step = spec.step;
  }
  f.task = o.task;
  f.states = ParseStates(o.state);
  if (!o.since.empty()) {
    f.since_ns = ParseSince(o.since);
  }
  if (!o.user.empty()) {
    f.uid = ParseUser(o.user);
    if (!caller.admin && *f.uid != caller.uid) {
      Die(kExitError, fmt::format("--user {}: you may list only your own checkpoints (uid {}); "
                                  "see 'Permissions' in docs/catalog.md",
                                  o.user, caller.uid));
    }
  }
  if (!caller.admin) {
    f.uid = caller.uid;
  }
  f.limit = o.limit;
  CatalogPtr catalog;
  OrDie(OpenForReading(path, caller, &catalog));
  std::vector<cat::CheckpointRow> rows;
  OrDie(catalog->List(f, &rows));
  Print(cat::RenderCheckpoints(rows, FormatOf(o)));
}

// ---- show ----

struct ShowOptions : Common {
  std::int64_t id = 0;
};

void RunShow(const ShowOptions& o) {
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  CatalogPtr catalog;
  OrDie(OpenForReading(path, caller, &catalog));
  std::optional<cat::CheckpointRow> row;
  OrDie(catalog->Get(o.id, &row));
  if (!row || !caller.MaySee(*row)) {
    Die(kExitProblem, fmt::format("no checkpoint #{}{} in catalog {}", o.id,
                                  caller.admin ? "" : " of yours", path));
  }
  std::vector<cat::RestoreRow> restores;
  OrDie(catalog->RestoresOf(o.id, &restores));
  Print(cat::RenderCheckpoint(*row, restores, FormatOf(o)));
}

// ---- latest ----

struct LatestOptions : Common {
  std::string job;
  std::optional<std::uint32_t> task;
  std::size_t count = cat::kLatestGoodDefault;
};

void RunLatest(const LatestOptions& o) {
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  JobSpec spec = ParseJob(o.job);
  CatalogPtr catalog;
  OrDie(OpenForReading(path, caller, &catalog));
  std::vector<cat::CheckpointRow> rows;
  OrDie(catalog->LatestGood(spec.job, spec.step, o.task, o.count, &rows));
  std::vector<cat::CheckpointRow> good;
  for (auto& row : rows) {
    if (caller.MaySee(row)) {
      good.push_back(std::move(row));
    }
  }
  if (good.empty()) {
    Die(kExitProblem,
        fmt::format("no usable checkpoint for job {}{}: none is COMMITTED or VERIFIED with its "
                    "image in place (see `kcr catalog list --job {}`)",
                    o.job, o.task ? fmt::format(" task {}", *o.task) : "", o.job));
  }
  Print(cat::RenderCheckpoints(good, FormatOf(o)));
}

// ---- verify ----

struct VerifyOptions : Common {
  std::vector<std::int64_t> ids;
  bool all = false;
};

// Checks one row's image against the row: its checksums, size and identity.
// A whole image that is not the one the row recorded is corrupt for the row.
ImageVerdict VerdictFor(const cat::CheckpointRow& row, std::string* problem) {
  ImageCheck c = VerifyImage(row.info.image_path);
  *problem = c.problem;
  if (c.verdict() != ImageVerdict::kOk) {
    return c.verdict();
  }
  if (row.checksum != 0 && c.header.checksum != row.checksum) {
    *problem = fmt::format(
        "{} is a different image (header checksum {:016x}, the catalog recorded "
        "{:016x}): it was overwritten",
        row.info.image_path, c.header.checksum, row.checksum);
    return ImageVerdict::kCorrupt;
  }
  if (row.bytes != 0 && c.file_bytes != row.bytes) {
    *problem = fmt::format("{} is {} bytes, the catalog recorded {}", row.info.image_path,
                           c.file_bytes, row.bytes);
    return ImageVerdict::kCorrupt;
  }
  return ImageVerdict::kOk;
}

void RunVerify(const VerifyOptions& o) {
  if (o.ids.empty() == !o.all) {
    Die(kExitError, "name the checkpoints to verify (kcr catalog verify ID...) or give --all");
  }
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  // Marking results needs write access; without it, verify still reports.
  CatalogPtr catalog;
  bool record = true;
  Status st = OpenForWriting(path, &catalog);
  if (st.code() == -EACCES) {
    st = OpenForReading(path, caller, &catalog);
    record = false;
  }
  OrDie(st);
  std::vector<cat::CheckpointRow> rows;
  if (o.all) {
    cat::ListFilter f;
    f.states = {cat::State::kCommitted, cat::State::kVerified};
    f.uid = caller.UidFilter();
    OrDie(catalog->List(f, &rows));
  }
  int bad = 0;
  for (std::int64_t id : o.ids) {
    std::optional<cat::CheckpointRow> row;
    OrDie(catalog->Get(id, &row));
    if (!row || !caller.MaySee(*row)) {
      std::printf("#%lld  NOT FOUND  no checkpoint #%lld%s\n", static_cast<long long>(id),
                  static_cast<long long>(id), caller.admin ? "" : " of yours");
      ++bad;
      continue;
    }
    rows.push_back(std::move(*row));
  }
  int good = 0;
  for (const auto& row : rows) {
    const std::string id = fmt::format("#{}", row.id);
    if (!cat::IsGood(row.state)) {
      bool writing = row.state == cat::State::kWriting;
      std::printf("%s  %s  %s: not checked, it is %s%s\n", id.c_str(), writing ? "SKIPPED" : "BAD",
                  row.info.image_path.c_str(), std::string(cat::ToString(row.state)).c_str(),
                  writing ? " (still being written)" : "");
      bad += writing ? 0 : 1;
      continue;
    }
    std::string problem;
    const ImageVerdict verdict = VerdictFor(row, &problem);
    if (verdict == ImageVerdict::kUnsupported) {
      ++bad;
      std::printf("%s  UNSUPPORTED  %s: %s (left %s)\n", id.c_str(), row.info.image_path.c_str(),
                  problem.c_str(), std::string(cat::ToString(row.state)).c_str());
    } else if (verdict == ImageVerdict::kOk) {
      ++good;
      std::printf("%s  OK  %s\n", id.c_str(), row.info.image_path.c_str());
      if (record) {
        OrDie(catalog->MarkVerified(row.id));
      }
    } else {
      ++bad;
      std::printf("%s  CORRUPT  %s\n", id.c_str(), problem.c_str());
      if (record) {
        OrDie(catalog->MarkCorrupt(row.id, problem));
      }
    }
  }
  std::printf("%d verified, %d bad%s\n", good, bad,
              record ? "" : " (not recorded: the catalog is read-only for you)");
  std::fflush(stdout);
  if (bad > 0) {
    throw Exit{kExitProblem};
  }
}

// ---- prune ----

struct PruneOptions : Common {
  bool dry_run = false;
  std::string active;  // --active-jobs 1,2,3
};

// Jobs still pending or running, from squeue when it answers.
cat::ActiveJobs ActiveJobsFromSqueue(std::string* how) {
  // %A is the job id of each array element too; -r lists pending array elements one by one.
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen("squeue -h -r -o %A 2>/dev/null", "r"), ::pclose);
  if (!p) {
    *how = "squeue could not be run";
    return std::nullopt;
  }
  std::unordered_set<std::uint32_t> jobs;
  char line[64];
  while (std::fgets(line, sizeof line, p.get()) != nullptr) {
    char* end = nullptr;
    unsigned long id = std::strtoul(line, &end, 10);
    if (end != line && id > 0) {
      jobs.insert(static_cast<std::uint32_t>(id));
    }
  }
  int status = ::pclose(p.release());
  if (status != 0) {
    *how = "squeue is not available";
    return std::nullopt;
  }
  *how = fmt::format("squeue lists {} pending or running jobs", jobs.size());
  return jobs;
}

void RunPrune(const PruneOptions& o) {
  const config::Config& cfg = SiteConfig();
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  cat::RetentionPolicy policy;
  policy.keep_last = cfg.retention.keep_last;
  policy.max_age = cfg.retention.max_age;
  policy.user_quota = cfg.retention.user_quota;
  policy.writing_timeout = cfg.retention.writing_timeout;

  std::string how;
  cat::ActiveJobs active;
  if (!o.active.empty()) {
    std::unordered_set<std::uint32_t> jobs;
    std::stringstream parts(o.active);
    for (std::string part; std::getline(parts, part, ',');) {
      jobs.insert(ParseJob(part).job);
    }
    active = std::move(jobs);
    how = fmt::format("--active-jobs names {} jobs", active->size());
  } else {
    active = ActiveJobsFromSqueue(&how);
  }
  if (!active) {
    how += ": every job with a checkpoint newer than max_age counts as running";
  }

  CatalogPtr catalog;
  OrDie(o.dry_run ? OpenForReading(path, caller, &catalog) : OpenForWriting(path, &catalog));
  std::vector<cat::CheckpointRow> rows;
  OrDie(catalog->RetentionCandidates(&rows));
  if (!caller.admin) {
    std::erase_if(rows, [&](const auto& r) { return r.info.uid != caller.uid; });
  }
  cat::PrunePlan plan = cat::PlanRetention(rows, policy, active, NowNs());
  const cat::Format format = FormatOf(o);
  if (format == cat::Format::kTable) {
    std::printf("Active jobs: %s.\n", how.c_str());
  }
  // History the site no longer wants: rows of images deleted long ago.
  auto forget = [&](std::vector<std::string>* notes) {
    const auto keep = cfg.retention.keep_history;
    if (!caller.admin || keep.count() == 0) {
      return;
    }
    const std::int64_t before =
        NowNs() - std::chrono::duration_cast<std::chrono::nanoseconds>(keep).count();
    cat::ForgetResult f;
    OrDie(catalog->ForgetDeleted(before, o.dry_run, &f));
    if (f.checkpoints + f.restores + f.jobs == 0) {
      return;
    }
    notes->push_back(fmt::format(
        "{} {}{} checkpoint rows deleted more than keep_history {} ago, {} restore records and "
        "{} job rows",
        o.dry_run ? "would forget" : "forgot", o.dry_run ? "up to " : "", f.checkpoints,
        util::FormatDuration(keep), f.restores, f.jobs));
  };
  if (o.dry_run) {
    forget(&plan.notes);
    Print(cat::RenderPrune(plan, true, format));
    return;
  }
  cat::PruneResult result;
  OrDie(catalog->ApplyPrune(plan, &result));
  cat::PrunePlan done{result.done, plan.notes};
  forget(&done.notes);
  Print(cat::RenderPrune(done, false, format));
  for (const auto& p : result.problems) {
    std::fprintf(stderr, "kcr catalog prune: %s\n", p.c_str());
  }
  if (!result.problems.empty()) {
    throw Exit{kExitProblem};
  }
}

// ---- stats ----

void RunStats(const Common& o) {
  const std::string path = CatalogPath(o);
  const Caller caller = CallerOf(path);
  CatalogPtr catalog;
  OrDie(OpenForReading(path, caller, &catalog));
  cat::Stats stats;
  OrDie(catalog->GetStats(caller.UidFilter(), &stats));
  Print(cat::RenderStats(stats, FormatOf(o)));
}

// ---- rebuild ----

struct RebuildOptions : Common {
  std::string dir;
  bool dry_run = false;
  bool quick = false;
};

void RunRebuild(const RebuildOptions& o) {
  const std::string path = CatalogPath(o);
  std::error_code ec;
  if (!std::filesystem::is_directory(o.dir, ec)) {
    Die(kExitError, fmt::format("{} is not a directory to search for images", o.dir));
  }
  const config::ImageDirMatcher matcher(SiteConfig().image_dir);
  CatalogPtr catalog;
  if (o.dry_run) {
    cat::OpenOptions ro;
    ro.read_only = true;
    if (std::filesystem::exists(path, ec)) {
      OrDie(cat::Catalog::Open(path, ro, &catalog));
    }
  } else {
    OrDie(cat::Catalog::Open(path, {}, &catalog));
  }
  const std::string node = util::NodeName();
  int found = 0, known = 0, added = 0, corrupt = 0, skipped = 0;
  std::vector<cat::CheckpointRow> rows;
  auto it = std::filesystem::recursive_directory_iterator(
      o.dir, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    // A tree image is one image: its directory, not the process images in it.
    const bool tree = it->is_directory(ec) && IsTreeImage(it->path().string());
    if (tree)
      it.disable_recursion_pending();
    else if (!it->is_regular_file(ec))
      continue;
    const std::string image = std::filesystem::absolute(it->path()).lexically_normal().string();
    ImageCheck head = ReadImageHeader(image);
    if (!head.is_image) {
      continue;
    }
    ++found;
    if (catalog) {
      std::optional<cat::CheckpointRow> row;
      OrDie(catalog->FindByImage(image, &row));
      if (row) {
        ++known;
        continue;
      }
    }
    ImageCheck check = head;
    if (!o.quick && head.ok()) {
      check = VerifyImage(image);
    }
    if (check.verdict() == ImageVerdict::kUnsupported) {
      // A newer kcr's image: recording it as CORRUPT would let prune delete it.
      ++skipped;
      std::printf("skipping %s: %s\n", image.c_str(), check.problem.c_str());
      continue;
    }
    cat::CheckpointInfo info;
    const config::ImageDirMatch where = matcher.Match(image).value_or(config::ImageDirMatch{});
    info.job_id = where.job && *where.job != "manual" ? cat::ParseStep(*where.job).value_or(0)
                                                      : cat::kManualJob;
    info.step_id = where.step ? cat::ParseStep(*where.step).value_or(0) : 0;
    info.task = where.task ? cat::ParseStep(*where.task).value_or(0) : 0;
    info.node = node;
    info.image_path = image;
    info.trigger = cat::Trigger::kUnknown;
    struct stat st {};
    ::stat(image.c_str(), &st);
    if (head.header_ok) {
      info.pid = head.header.pid;
      info.uid = head.header.uid;
      info.kernel_release = HeaderRelease(head.header);
      info.created_ns = static_cast<std::int64_t>(head.header.created_ns);
    } else {
      info.uid = st.st_uid;
      info.created_ns =
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    }
    info.user = where.user.value_or(util::UserName(info.uid));
    info.kcr_version = "unknown";
    const cat::CommitInfo commit{check.file_bytes, head.header_ok ? head.header.checksum : 0,
                                 head.header_ok ? head.header.freeze_ns : 0,
                                 head.header_ok ? head.header.write_ns : 0};
    const bool whole = check.verdict() == ImageVerdict::kOk;
    corrupt += whole ? 0 : 1;
    ++added;
    if (o.dry_run) {
      std::printf("would add %s  %s%s\n", whole ? "COMMITTED" : "CORRUPT  ", image.c_str(),
                  whole ? "" : (": " + check.problem).c_str());
      continue;
    }
    const std::string reason = whole
                                   ? std::string("rebuilt from the image by kcr catalog rebuild") +
                                         (o.quick ? " "
                                                    "(header only)"
                                                  : "")
                                   : check.problem;
    std::int64_t id = 0;
    OrDie(catalog->InsertRebuilt(
        info, commit, whole ? cat::State::kCommitted : cat::State::kCorrupt, reason, &id));
    std::optional<cat::CheckpointRow> row;
    OrDie(catalog->Get(id, &row));
    rows.push_back(*row);
  }
  if (ec) {
    Die(kExitError, fmt::format("reading {}: {}", o.dir, ec.message()));
  }
  if (!rows.empty()) {
    Print(cat::RenderCheckpoints(rows, FormatOf(o)));
  }
  std::printf(
      "%d images found in %s: %d %s, %d already in the catalog, %d of them corrupt, %d skipped "
      "(written by a newer kcr)\n",
      found, o.dir.c_str(), added, o.dry_run ? "would be added" : "added", known, corrupt, skipped);
}

}  // namespace

void RegisterCatalog(CLI::App& app) {
  CLI::App* catalog = app.add_subcommand("catalog", "what checkpoints exist, and their images");
  catalog->require_subcommand(1);

  auto list = std::make_shared<ListOptions>();
  CLI::App* l = catalog->add_subcommand("list", "list checkpoints");
  AddCommon(l, list, true);
  l->add_option("--job", list->job, "a Slurm job (1234), job step (1234.0) or 'manual'");
  l->add_option("--task", list->task, "task rank within the step");
  l->add_option("--user", list->user, "user name or uid (root only, for others)");
  l->add_option("--state", list->state,
                "states, comma-separated, or 'all' (default: all but DELETED)");
  l->add_option("--since", list->since, "created since a date (2024-05-01[T12:00]) or ago (2h)");
  l->add_option("--limit", list->limit, "only the newest N");
  l->callback([list] { Guarded([&] { RunList(*list); }); });

  auto show = std::make_shared<ShowOptions>();
  CLI::App* s = catalog->add_subcommand("show", "one checkpoint in full, with its restores");
  AddCommon(s, show, true);
  s->add_option("id", show->id, "checkpoint id")->required();
  s->callback([show] { Guarded([&] { RunShow(*show); }); });

  auto latest = std::make_shared<LatestOptions>();
  CLI::App* la = catalog->add_subcommand(
      "latest", "the newest usable checkpoint of a job, then its fallbacks in order");
  AddCommon(la, latest, true);
  la->add_option("--job", latest->job, "a Slurm job (1234), job step (1234.0) or 'manual'")
      ->required();
  la->add_option("--task", latest->task, "task rank within the step");
  la->add_option("--count", latest->count, "at most this many (default 8)");
  la->callback([latest] { Guarded([&] { RunLatest(*latest); }); });

  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* v = catalog->add_subcommand(
      "verify", "re-read images and their checksums; mark bad ones CORRUPT (exit 1 if any)");
  AddCommon(v, verify, false);
  v->add_option("ids", verify->ids, "checkpoint ids");
  v->add_flag("--all", verify->all, "every COMMITTED and VERIFIED checkpoint");
  v->callback([verify] { Guarded([&] { RunVerify(*verify); }); });

  auto prune = std::make_shared<PruneOptions>();
  CLI::App* p = catalog->add_subcommand(
      "prune", "apply the retention policy: delete images and mark their rows DELETED");
  AddCommon(p, prune, true);
  p->add_flag("--dry-run", prune->dry_run, "only show what would be pruned");
  p->add_option("--active-jobs", prune->active,
                "jobs still pending or running, comma-separated (default: ask squeue)");
  p->callback([prune] { Guarded([&] { RunPrune(*prune); }); });

  auto stats = std::make_shared<Common>();
  CLI::App* st = catalog->add_subcommand(
      "stats", "per user and per job: checkpoints, bytes, success rate, seconds per GiB");
  AddCommon(st, stats, true);
  st->callback([stats] { Guarded([&] { RunStats(*stats); }); });

  auto rebuild = std::make_shared<RebuildOptions>();
  CLI::App* r = catalog->add_subcommand(
      "rebuild", "re-create rows from the images under DIR (after losing the catalog)");
  AddCommon(r, rebuild, true);
  r->add_option("dir", rebuild->dir, "directory to search, recursively")->required();
  r->add_flag("--dry-run", rebuild->dry_run, "only show what would be added");
  r->add_flag("--quick", rebuild->quick, "check headers and sizes only, not every checksum");
  r->callback([rebuild] { Guarded([&] { RunRebuild(*rebuild); }); });
}

}  // namespace kcr::cli
