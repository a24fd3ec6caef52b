// kcr_catalog_bench: the catalog at scale (issue 4's targets).
//
//   1. fills a fresh catalog with 1,000,000 checkpoint rows (20,000 jobs of
//      5 tasks x 10 checkpoints, 500 users, states as retention leaves them);
//   2. times `list --job J` and `latest` the way the CLI runs them: open the
//      file read-only, query, render a table; target: under 50 ms each;
//   3. runs 8 writer processes recording checkpoints (begin + commit, each a
//      durable transaction) and reports the rate.
//
// Run it through bench/catalog/run.sh. Exit status 1 when a target is missed.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <kcr/catalog/catalog.h>
#include <kcr/catalog/format.h>

namespace {

namespace cat = kcr::catalog;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string dir = "/tmp/kcr-catalog-bench";
  std::int64_t rows = 1'000'000;
  int writers = 8;
  double seconds = 5;
  int samples = 200;
  std::string kcr;  // the kcr binary, to time the CLI end to end as well
};

constexpr int kTasks = 5;
constexpr int kPerTask = 10;
constexpr int kUsers = 500;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Summary {
  double median, p99, max;
};

Summary Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  return {at(0.5), at(0.99), v.back()};
}

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(2);
  }
}

// A catalog call the benchmark cannot go on without.
void Must(const kcr::Status& st) {
  if (!st.ok()) {
    std::fprintf(stderr, "bench: %s\n", st.message().c_str());
    std::exit(2);
  }
}

std::string ImagePath(const Options& o, std::int64_t job, int task, int n) {
  return fmt::format("{}/images/{}/{}.{}.kcr", o.dir, job, task, n);
}

// Bulk load with plain SQL in one transaction: the library's one-row-per-
// transaction path is what the writers measure, and would take an hour here.
void Fill(const Options& o, const std::string& db_path) {
  std::unique_ptr<cat::Catalog> schema;
  Must(cat::Catalog::Open(db_path, {}, &schema));  // creates the schema
  sqlite3* db = nullptr;
  Check(sqlite3_open(db_path.c_str(), &db), db, "open");
  Check(sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", nullptr, nullptr, nullptr), db,
        "begin");
  sqlite3_stmt* job = nullptr;
  sqlite3_stmt* ck = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "INSERT INTO jobs (job_id, uid, user, partition, first_seen_ns, "
                           "last_seen_ns) VALUES (?1, ?2, ?3, 'batch', ?4, ?4)",
                           -1, &job, nullptr),
        db, "prepare");
  Check(sqlite3_prepare_v2(
            db,
            "INSERT INTO checkpoints (job_id, step_id, task, node, pid, uid, user, image_path, "
            "bytes, checksum, trigger, created_ns, committed_ns, freeze_ns, write_ns, "
            "kcr_version, kernel_release, state, state_changed_ns) VALUES (?1, 0, ?2, ?3, ?4, "
            "?5, ?6, ?7, ?8, ?9, 'periodic', ?10, ?11, 2000000, ?12, '0.1.0', '6.1.0', ?13, ?11)",
            -1, &ck, nullptr),
        db, "prepare");
  const std::int64_t jobs = o.rows / (kTasks * kPerTask);
  const std::int64_t t0 = 1'700'000'000LL * 1'000'000'000;
  std::mt19937_64 rng(42);
  std::int64_t inserted = 0;
  for (std::int64_t j = 1; j <= jobs; ++j) {
    const std::int64_t uid = 10000 + j % kUsers;
    const std::string user = fmt::format("user{}", j % kUsers);
    const std::int64_t start = t0 + j * 60'000'000'000LL;
    sqlite3_bind_int64(job, 1, j);
    sqlite3_bind_int64(job, 2, uid);
    sqlite3_bind_text(job, 3, user.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(job, 4, start);
    Check(sqlite3_step(job), db, "insert job");
    sqlite3_reset(job);
    for (int n = 0; n < kPerTask; ++n) {
      for (int t = 0; t < kTasks; ++t) {
        // Retention keeps the newest three of each task; older ones are gone.
        const char* state = n >= kPerTask - 3 ? (n == kPerTask - 1 ? "COMMITTED" : "VERIFIED")
                                              : (rng() % 20 == 0 ? "FAILED" : "DELETED");
        const std::int64_t bytes = static_cast<std::int64_t>(1 + rng() % 64) << 20;
        const std::int64_t created = start + n * 3'600'000'000'000LL;
        const std::string path = ImagePath(o, j, t, n);
        const std::string node = fmt::format("node{:03}", (j + t) % 256);
        sqlite3_bind_int64(ck, 1, j);
        sqlite3_bind_int64(ck, 2, t);
        sqlite3_bind_text(ck, 3, node.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ck, 4, 1000 + t);
        sqlite3_bind_int64(ck, 5, uid);
        sqlite3_bind_text(ck, 6, user.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ck, 7, path.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ck, 8, bytes);
        sqlite3_bind_int64(ck, 9, static_cast<std::int64_t>(rng()));
        sqlite3_bind_int64(ck, 10, created);
        sqlite3_bind_int64(ck, 11, created + 5'000'000'000LL);
        sqlite3_bind_int64(ck, 12, bytes * 2);  // ~2 s per GiB
        sqlite3_bind_text(ck, 13, state, -1, SQLITE_STATIC);
        Check(sqlite3_step(ck), db, "insert checkpoint");
        sqlite3_reset(ck);
        ++inserted;
      }
    }
  }
  sqlite3_finalize(job);
  sqlite3_finalize(ck);
  Check(sqlite3_exec(db, "COMMIT; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr,
                     nullptr),
        db, "commit");
  sqlite3_close(db);
  std::printf("  %lld rows in %lld jobs, %d users\n", static_cast<long long>(inserted),
              static_cast<long long>(jobs), kUsers);
}

// LatestGood() stats each candidate's image: give the probed jobs real
// (sparse) files of the recorded size.
void MakeImages(const std::string& db_path, const std::vector<std::int64_t>& jobs) {
  std::unique_ptr<cat::Catalog> catalog;
  Must(cat::Catalog::Open(db_path, {}, &catalog));
  for (std::int64_t j : jobs) {
    cat::ListFilter f;
    f.job = static_cast<std::uint32_t>(j);
    f.states = {cat::State::kCommitted, cat::State::kVerified};
    std::vector<cat::CheckpointRow> rows;
    Must(catalog->List(f, &rows));
    for (const auto& row : rows) {
      std::filesystem::create_directories(std::filesystem::path(row.info.image_path).parent_path());
      int fd = ::open(row.info.image_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
      if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(row.bytes)) != 0) {
        std::perror("bench: image");
        std::exit(2);
      }
      ::close(fd);
    }
  }
}

// One CLI-shaped query: open read-only, run, render as a table.
double TimedQuery(const std::function<std::size_t(cat::Catalog&)>& q, const std::string& db,
                  std::size_t* rows) {
  auto t0 = Clock::now();
  cat::OpenOptions ro;
  ro.read_only = true;
  std::unique_ptr<cat::Catalog> catalog;
  Must(cat::Catalog::Open(db, ro, &catalog));
  *rows = q(*catalog);
  return MsSince(t0);
}

double TimedCli(const Options& o, const std::vector<std::string>& args) {
  auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(o.kcr.c_str()));
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(o.kcr.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: %s exited with %d\n", o.kcr.c_str(), WEXITSTATUS(status));
    std::exit(2);
  }
  return MsSince(t0);
}

bool Report(const char* what, const std::vector<double>& ms, std::size_t rows) {
  Summary s = Summarize(ms);
  bool ok = s.p99 < 50.0;
  std::printf("  %-34s median %6.2f ms  p99 %6.2f ms  max %6.2f ms  (%zu rows)  %s\n", what,
              s.median, s.p99, s.max, rows, ok ? "ok (< 50 ms)" : "MISSED 50 ms");
  return ok;
}

struct WriterResult {
  long long checkpoints = 0;
  long long errors = 0;
  double lat_ms[2048] = {};  // begin+commit latency samples
  int nlat = 0;
};

void Writers(const Options& o, const std::string& db) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::exit(2);
  }
  std::vector<pid_t> kids;
  auto t_start = Clock::now();
  for (int w = 0; w < o.writers; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      WriterResult r;
      std::unique_ptr<cat::Catalog> catalog;
      kcr::Status opened = cat::Catalog::Open(db, {}, &catalog);
      if (!opened.ok()) {
        std::fprintf(stderr, "writer %d: %s\n", w, opened.message().c_str());
        ++r.errors;
      }
      if (opened.ok()) {
        auto deadline = Clock::now() + std::chrono::duration<double>(o.seconds);
        for (int n = 0; Clock::now() < deadline; ++n) {
          cat::CheckpointInfo info;
          info.job_id = static_cast<std::uint32_t>(5'000'000 + w);
          info.task = static_cast<std::uint32_t>(n);
          info.node = "bench";
          info.uid = 4242;
          info.user = "bench";
          info.image_path = fmt::format("{}/writer{}/{}.kcr", o.dir, w, n);
          info.trigger = cat::Trigger::kPeriodic;
          auto t0 = Clock::now();
          std::int64_t id = 0;
          kcr::Status st = catalog->BeginCheckpoint(info, &id);
          if (st.ok()) {
            st = catalog->CommitCheckpoint(id, {1 << 20, 1, 1000, 2000});
          }
          if (st.ok()) {
            ++r.checkpoints;
          } else {
            std::fprintf(stderr, "writer %d: %s\n", w, st.message().c_str());
            ++r.errors;
          }
          if (r.nlat < 2048) {
            r.lat_ms[r.nlat++] = MsSince(t0);
          }
        }
      }
      if (::write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  ::close(fds[1]);
  long long total = 0, errors = 0;
  std::vector<double> lat;
  for (std::size_t i = 0; i < kids.size(); ++i) {
    WriterResult r;
    std::size_t got = 0;
    while (got < sizeof r) {
      ssize_t n = ::read(fds[0], reinterpret_cast<char*>(&r) + got, sizeof r - got);
      if (n <= 0) {
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    total += r.checkpoints;
    errors += r.errors;
    lat.insert(lat.end(), r.lat_ms, r.lat_ms + r.nlat);
  }
  for (pid_t k : kids) {
    ::waitpid(k, nullptr, 0);
  }
  double secs = MsSince(t_start) / 1000.0;
  Summary s = Summarize(lat);
  std::printf(
      "  %d writers, %.1f s: %lld checkpoints recorded (%.0f/s; each = 2 durable "
      "transactions), %lld errors\n",
      o.writers, secs, total, static_cast<double>(total) / secs, errors);
  std::printf("  begin+commit latency: median %.2f ms, p99 %.2f ms, max %.2f ms\n", s.median, s.p99,
              s.max);
  if (errors > 0) {
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--rows") {
      o.rows = std::stoll(next());
    } else if (a == "--writers") {
      o.writers = std::stoi(next());
    } else if (a == "--seconds") {
      o.seconds = std::stod(next());
    } else if (a == "--kcr") {
      o.kcr = next();
    } else {
      std::fprintf(stderr,
                   "usage: kcr_catalog_bench [--dir DIR] [--rows N] [--writers W] "
                   "[--seconds S] [--kcr PATH_TO_KCR]\n");
      return 2;
    }
  }
  std::filesystem::remove_all(o.dir);
  std::filesystem::create_directories(o.dir);
  const std::string db = o.dir + "/catalog.db";

  std::printf("kcr catalog benchmark (%s)\n", db.c_str());
  auto t0 = Clock::now();
  std::printf("fill:\n");
  Fill(o, db);
  std::printf("  %.1f s, %.0f MiB on disk\n", MsSince(t0) / 1000,
              static_cast<double>(std::filesystem::file_size(db)) / (1 << 20));

  const std::int64_t jobs = o.rows / (kTasks * kPerTask);
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> probe;
  for (int i = 0; i < o.samples; ++i) {
    probe.push_back(1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(jobs)));
  }
  MakeImages(db, probe);

  bool ok = true;
  std::printf("queries (open read-only + query + table, in process, %d random jobs):\n", o.samples);
  std::vector<double> list_ms, latest_ms, latest_task_ms;
  std::size_t list_rows = 0, latest_rows = 0;
  for (std::int64_t j : probe) {
    list_ms.push_back(TimedQuery(
        [&](cat::Catalog& c) {
          cat::ListFilter f;
          f.job = static_cast<std::uint32_t>(j);
          for (cat::State s : cat::kAllStates) {
            if (s != cat::State::kDeleted) {
              f.states.push_back(s);
            }
          }
          std::vector<cat::CheckpointRow> rows;
          Must(c.List(f, &rows));
          std::string out = cat::RenderCheckpoints(rows, cat::Format::kTable);
          return rows.size();
        },
        db, &list_rows));
    latest_ms.push_back(TimedQuery(
        [&](cat::Catalog& c) {
          std::vector<cat::CheckpointRow> rows;
          Must(c.LatestGood(static_cast<std::uint32_t>(j), 0, 2, cat::kLatestGoodDefault, &rows));
          std::string out = cat::RenderCheckpoints(rows, cat::Format::kTable);
          return rows.size();
        },
        db, &latest_rows));
  }
  ok &= Report("list --job J", list_ms, list_rows);
  ok &= Report("latest --job J.0 --task T", latest_ms, latest_rows);

  if (!o.kcr.empty()) {
    std::printf("queries through the kcr binary (process start included, %d jobs):\n", 20);
    std::vector<double> cli_list, cli_latest;
    for (int i = 0; i < 20; ++i) {
      const std::string job = std::to_string(probe[static_cast<std::size_t>(i)]);
      cli_list.push_back(TimedCli(o, {"catalog", "list", "--catalog", db, "--job", job}));
      cli_latest.push_back(
          TimedCli(o, {"catalog", "latest", "--catalog", db, "--job", job + ".0", "--task", "2"}));
    }
    ok &= Report("kcr catalog list --job J", cli_list, list_rows);
    ok &= Report("kcr catalog latest --job J.0 --task T", cli_latest, latest_rows);
  }

  std::printf("writers (on the %lld-row catalog):\n", static_cast<long long>(o.rows));
  Writers(o, db);
  std::printf("%s\n", ok ? "all query targets met" : "a query target was missed");
  return ok ? 0 : 1;
}
