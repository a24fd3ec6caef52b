// Reading kcr.yaml: every key is declared once in a table below with its
// parser, so "unknown key" and "wrong type" errors come from one place.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "kcr/config/config.h"

namespace kcr::config {

namespace {

// Where a value sits, for messages: "kcr.yaml:12: retention.max_age: ...".
struct Where {
  std::string_view file;
  std::string key;
  int line;
};

// Reading the file stops at its first error: the helpers below throw it as
// a Failure, which Parse() turns into its Status. Nothing leaves this file.
struct Failure {
  std::string message;
  ErrorLocation where;
};

[[noreturn]] void Fail(const Where& w, const std::string& problem) {
  throw Failure{std::string(w.file) + ":" + std::to_string(w.line) + ": " + w.key + ": " + problem,
                {w.key, w.line}};
}

int LineOf(const YAML::Node& n) {
  return n.Mark().line + 1;
}

// The text of a scalar value, or an error naming what it should have been.
std::string Scalar(const YAML::Node& v, const Where& w, std::string_view expected) {
  if (v.IsNull()) {
    Fail(w, "has no value; give " + std::string(expected) + ", or remove the line for the default");
  }
  if (!v.IsScalar()) {
    Fail(w, std::string("must be ") + std::string(expected) + ", not a " +
                (v.IsMap() ? "mapping" : "list"));
  }
  return v.Scalar();
}

std::chrono::seconds Duration(const YAML::Node& v, const Where& w, bool none_allowed) {
  std::string s = Scalar(v, w, "a duration such as 90s, 10m, 2h or 1d");
  if (none_allowed && s == "none") {
    return std::chrono::seconds(0);
  }
  auto d = ParseDuration(s);
  if (!d) {
    bool bare = !s.empty() &&
                std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    Fail(w, "'" + s + "' is not a duration" +
                (bare ? " (a number needs a unit: " + s + "s, " + s + "m, ...)"
                      : " (write e.g. 90s, 10m, 2h, 1d or 1h30m)") +
                (none_allowed ? ", or none" : ""));
  }
  return *d;
}

std::uint64_t Size(const YAML::Node& v, const Where& w) {
  std::string s = Scalar(v, w, "a size such as 500M or 10GiB");
  if (s == "none") {
    return 0;
  }
  auto b = ParseSize(s);
  if (!b) {
    Fail(w, "'" + s + "' is not a size (write e.g. 500M, 10GiB or 2TB, or none)");
  }
  return *b;
}

bool Boolean(const YAML::Node& v, const Where& w) {
  std::string s = Scalar(v, w, "true or false");
  bool out = false;
  if (!YAML::convert<bool>::decode(v, out)) {
    Fail(w, "'" + s + "' is not true or false");
  }
  return out;
}

std::uint32_t Count(const YAML::Node& v, const Where& w) {
  std::string s = Scalar(v, w, "a whole number");
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || s.front() == '-' || errno == ERANGE || n > 0xffffffffULL) {
    Fail(w, "'" + s + "' is not a whole number from 0 up");
  }
  return static_cast<std::uint32_t>(n);
}

std::string AbsolutePath(const YAML::Node& v, const Where& w) {
  std::string s = Scalar(v, w, "an absolute path");
  if (s.empty() || s.front() != '/') {
    Fail(w, "'" + s + "' is not an absolute path (it must start with /)");
  }
  return s;
}

// A pattern (image_dir.h), after the file's own rule for paths.
std::string ImageDir(const YAML::Node& v, const Where& w) {
  std::string s = AbsolutePath(v, w);
  if (Status st = CheckImageDir(s); !st.ok()) {
    Fail(w, st.message());
  }
  return s;
}

// Levenshtein distance, to suggest the key someone meant.
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// One mapping level of the file: its keys and what each one does.
struct Key {
  std::string_view name;
  std::function<void(const YAML::Node& value, const Where& where)> apply;
};

void ReadMap(const YAML::Node& map, std::string_view file, const std::string& prefix,
             const std::vector<Key>& keys) {
  std::string known;
  for (const auto& k : keys) {
    known += (known.empty() ? "" : ", ") + std::string(k.name);
  }
  std::vector<std::pair<std::string, int>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const Where w{file, prefix + name, LineOf(it->first)};
    for (const auto& [n, line] : seen) {
      if (n == name) {
        Fail(w, "given twice (first on line " + std::to_string(line) + "); keep one");
      }
    }
    seen.emplace_back(name, w.line);
    auto key = std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.name == name; });
    if (key == keys.end()) {
      // Suggest a near miss: a typo (edit distance <= 2) or a shortened name.
      std::string_view best;
      std::size_t best_distance = 3;
      for (const auto& k : keys) {
        std::size_t d = Distance(name, k.name);
        if (k.name.starts_with(name) || name.starts_with(k.name)) {
          d = std::min<std::size_t>(d, 2);
        }
        if (d < best_distance) {
          best = k.name;
          best_distance = d;
        }
      }
      Fail(w, std::string("unknown key") +
                  (best.empty() ? "" : "; did you mean " + prefix + std::string(best) + "?") +
                  " (known" +
                  (prefix.empty() ? "" : " under " + prefix.substr(0, prefix.size() - 1)) + ": " +
                  known + ")");
    }
    key->apply(it->second, w);
  }
}

// A nested section ("retention:") must be a mapping.
void Section(const YAML::Node& v, const Where& w, const std::vector<Key>& keys) {
  if (v.IsNull()) {
    return;  // "retention:" with nothing under it: all defaults
  }
  if (!v.IsMap()) {
    std::string known;
    for (const auto& k : keys) {
      known += (known.empty() ? "" : ", ") + std::string(k.name);
    }
    Fail(w, "must be a mapping of keys (" + known + "), not a " +
                (v.IsScalar() ? "single value" : "list"));
  }
  ReadMap(v, w.file, w.key + ".", keys);
}

}  // namespace

std::string_view ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

namespace {

// Parse()'s work; throws a Failure at the first error.
Config ParseDocument(std::string_view yaml, std::string_view name) {
  Config c;
  c.source = std::string(name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw Failure{
        std::string(name) + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg,
        {"", e.mark.line + 1}};
  }
  if (root.IsNull()) {
    return c;  // empty, or only comments
  }
  if (!root.IsMap()) {
    throw Failure{std::string(name) + ":" + std::to_string(LineOf(root)) +
                      ": the file must be a mapping of keys (image_dir: ..., catalog_path: "
                      "...), see docs/configuration.md",
                  {"", LineOf(root)}};
  }

  int interval_line = 0;
  std::vector<Key> checkpoint = {
      {"interval",
       [&](const YAML::Node& v, const Where& w) {
         interval_line = w.line;
         std::string s = Scalar(v, w, "a duration, auto or none");
         if (s == "auto") {
           c.checkpoint.interval = {Interval::Kind::kAuto, std::chrono::seconds(0)};
         } else if (s == "none") {
           c.checkpoint.interval = {Interval::Kind::kNone, std::chrono::seconds(0)};
         } else {
           auto d = Duration(v, w, false);
           if (d.count() == 0) {
             Fail(w, "0 is not an interval; write none to turn periodic checkpoints off");
           }
           c.checkpoint.interval = {Interval::Kind::kFixed, d};
         }
       }},
      {"grace_margin", [&](const YAML::Node& v,
                           const Where& w) { c.checkpoint.grace_margin = Duration(v, w, false); }},
      {"verify_after_write",
       [&](const YAML::Node& v, const Where& w) {
         c.checkpoint.verify_after_write = Boolean(v, w);
       }},
      {"compression",
       [&](const YAML::Node& v, const Where& w) {
         std::string s = Scalar(v, w, "none");
         if (s != "none") {
           Fail(w, "'" + s +
                       "' is not supported yet: images are written uncompressed, so the "
                       "only value is none");
         }
         c.checkpoint.compression = s;
       }},
  };
  std::vector<Key> retention = {
      {"keep_last",
       [&](const YAML::Node& v, const Where& w) { c.retention.keep_last = Count(v, w); }},
      {"max_age",
       [&](const YAML::Node& v, const Where& w) { c.retention.max_age = Duration(v, w, true); }},
      {"user_quota",
       [&](const YAML::Node& v, const Where& w) { c.retention.user_quota = Size(v, w); }},
      {"writing_timeout",
       [&](const YAML::Node& v, const Where& w) {
         c.retention.writing_timeout = Duration(v, w, false);
         if (c.retention.writing_timeout.count() == 0) {
           Fail(w, "must be longer than 0, or prune would abandon checkpoints being written");
         }
       }},
      {"keep_history", [&](const YAML::Node& v,
                           const Where& w) { c.retention.keep_history = Duration(v, w, true); }},
  };
  std::vector<Key> slurm = {
      {"mtbf", [&](const YAML::Node& v, const Where& w) { c.slurm.mtbf = Duration(v, w, true); }},
  };
  std::vector<Key> top = {
      {"image_dir", [&](const YAML::Node& v, const Where& w) { c.image_dir = ImageDir(v, w); }},
      {"catalog_path",
       [&](const YAML::Node& v, const Where& w) { c.catalog_path = AbsolutePath(v, w); }},
      {"checkpoint", [&](const YAML::Node& v, const Where& w) { Section(v, w, checkpoint); }},
      {"retention", [&](const YAML::Node& v, const Where& w) { Section(v, w, retention); }},
      {"slurm", [&](const YAML::Node& v, const Where& w) { Section(v, w, slurm); }},
      {"log_level",
       [&](const YAML::Node& v, const Where& w) {
         std::string s = Scalar(v, w, "error, warning, info or debug");
         for (LogLevel l :
              {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo, LogLevel::kDebug}) {
           if (s == ToString(l)) {
             c.log_level = l;
             return;
           }
         }
         Fail(w, "'" + s + "' is not a log level (error, warning, info or debug)");
       }},
  };
  ReadMap(root, name, "", top);

  if (c.checkpoint.interval.kind == Interval::Kind::kAuto && c.slurm.mtbf.count() == 0) {
    Fail({name, "checkpoint.interval", interval_line},
         "auto needs slurm.mtbf (the mean time between failures a job sees) to compute the "
         "Young/Daly interval; set slurm.mtbf, or give a fixed interval such as 1h");
  }
  return c;
}

}  // namespace

Status Parse(std::string_view yaml, std::string_view name, Config* config, ErrorLocation* where) {
  ErrorLocation location;
  std::string message;
  try {
    *config = ParseDocument(yaml, name);
    return Status::Ok();
  } catch (const Failure& f) {
    message = f.message;
    location = f.where;
  } catch (const std::exception& e) {
    // yaml-cpp's own exceptions (a key that is not text, ...) say what is wrong.
    message = e.what();
  }
  if (where) {
    *where = location;
  }
  return Status::Error(EINVAL, message);
}

Status LoadFile(const std::filesystem::path& path, Config* config, ErrorLocation* where) {
  std::ifstream in(path);
  if (!in) {
    int e = errno;
    return Status::Error(e, "cannot read configuration file " + path.string() + ": " +
                                std::strerror(e) +
                                (e == ENOENT ? " (check --config and $KCR_CONFIG, or create it "
                                               "from config/kcr.yaml)"
                                             : ""));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path.string(), config, where);
}

Source Resolve(std::string_view explicit_path) {
  if (!explicit_path.empty()) {
    return {std::filesystem::path(explicit_path), Source::Origin::kCommandLine};
  }
  if (const char* env = std::getenv(std::string(kEnvVar).c_str()); env != nullptr && *env) {
    return {std::filesystem::path(env), Source::Origin::kEnvironment};
  }
  return {std::filesystem::path(kDefaultPath), Source::Origin::kDefault};
}

Status Load(std::string_view explicit_path, Config* config) {
  return Load(Resolve(explicit_path), config);
}

Status Load(const Source& src, Config* config) {
  std::error_code ec;
  if (src.origin == Source::Origin::kDefault && !std::filesystem::exists(src.path, ec)) {
    *config = Config{};  // no file at the default place: built-in defaults
    return Status::Ok();
  }
  if (src.origin != Source::Origin::kDefault && !std::filesystem::exists(src.path, ec)) {
    return Status::Error(
        ENOENT, "configuration file " + src.path.string() + " (named by " +
                    (src.origin == Source::Origin::kCommandLine ? std::string("--config")
                                                                : "$" + std::string(kEnvVar)) +
                    ") does not exist");
  }
  return LoadFile(src.path, config);
}

}  // namespace kcr::config
