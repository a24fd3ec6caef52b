// The rules of image_dir patterns (image_dir.h): one scanner of the
// pattern's placeholders serves validation, expansion, the fixed prefix and
// matching, so they cannot disagree about what a placeholder is.
#include "kcr/config/image_dir.h"

#include <algorithm>
#include <array>
#include <cerrno>

namespace kcr::config {

namespace {

constexpr std::array<std::string_view, 4> kPlaceholders = {"job", "step", "task", "user"};

bool Known(std::string_view name) {
  return std::find(kPlaceholders.begin(), kPlaceholders.end(), name) != kPlaceholders.end();
}

std::string Quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// One piece of a pattern: literal text, or a placeholder's name.
struct Piece {
  bool placeholder = false;
  std::string_view text;
};

// Splits a pattern into pieces; a problem ends the scan with its sentence.
struct Scan {
  std::vector<Piece> pieces;
  std::optional<std::string> problem;
};

Scan ScanPattern(std::string_view pattern) {
  Scan s;
  std::size_t literal = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '}') {
      s.problem = "'}' without '{' at column " + std::to_string(i + 1) + " of " + Quoted(pattern);
      return s;
    }
    if (pattern[i] != '{') {
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    if (close == std::string_view::npos) {
      s.problem = "'{' without '}' in " + Quoted(pattern);
      return s;
    }
    const std::string_view name = pattern.substr(i + 1, close - i - 1);
    if (!Known(name)) {
      s.problem = Quoted(pattern) + " has an unknown placeholder {" + std::string(name) +
                  "}: it is not a placeholder kcr fills; use {job}, {step}, {task} or {user}";
      return s;
    }
    if (i > literal) {
      s.pieces.push_back({false, pattern.substr(literal, i - literal)});
    }
    s.pieces.push_back({true, name});
    i = close;
    literal = close + 1;
  }
  if (literal < pattern.size()) {
    s.pieces.push_back({false, pattern.substr(literal)});
  }
  return s;
}

bool HasDotDotComponent(std::string_view pattern) {
  for (std::size_t start = 0; start <= pattern.size();) {
    std::size_t slash = pattern.find('/', start);
    if (slash == std::string_view::npos) {
      slash = pattern.size();
    }
    if (pattern.substr(start, slash - start) == "..") {
      return true;
    }
    start = slash + 1;
  }
  return false;
}

const std::string& ValueOf(std::string_view name, const ImageDirFields& f) {
  return name == "job" ? f.job : name == "step" ? f.step : name == "task" ? f.task : f.user;
}

// What each placeholder's value looks like in a path kcr wrote.
std::string_view ValueRegex(std::string_view name) {
  if (name == "job") {
    return "([0-9]+|manual)";
  }
  if (name == "step") {
    return "([0-9]+|batch|extern|interactive)";
  }
  if (name == "task") {
    return "([0-9]+)";
  }
  return "([^/]+)";
}

}  // namespace

Status CheckImageDir(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return Status::Error(EINVAL, Quoted(pattern) +
                                     " is not an absolute directory (it is used on the compute "
                                     "node, so it must start with /)");
  }
  Scan s = ScanPattern(pattern);
  if (s.problem) {
    return Status::Error(EINVAL, *s.problem);
  }
  if (HasDotDotComponent(pattern)) {
    return Status::Error(EINVAL, Quoted(pattern) +
                                     " must not contain a '..' component: images "
                                     "stay below the directory it names");
  }
  return Status::Ok();
}

std::string ExpandImageDir(std::string_view pattern, const ImageDirFields& fields) {
  Scan s = ScanPattern(pattern);
  if (s.problem) {
    return std::string(pattern);  // validated patterns only; anything else stays as written
  }
  std::string out;
  for (const Piece& p : s.pieces) {
    out += p.placeholder ? ValueOf(p.text, fields) : std::string(p.text);
  }
  return out;
}

std::string ImageDirFixedPrefix(std::string_view pattern) {
  const std::size_t brace = pattern.find('{');
  if (brace == std::string_view::npos) {
    return std::string(pattern);
  }
  const std::size_t slash = pattern.rfind('/', brace);
  return slash == std::string_view::npos || slash == 0 ? "/"
                                                       : std::string(pattern.substr(0, slash));
}

ImageDirMatcher::ImageDirMatcher(std::string_view pattern) {
  if (!CheckImageDir(pattern).ok()) {
    return;
  }
  std::string re;
  for (const Piece& p : ScanPattern(pattern).pieces) {
    if (p.placeholder) {
      names_.emplace_back(p.text);
      re += ValueRegex(p.text);
      continue;
    }
    for (char c : p.text) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) {
        re += '\\';
      }
      re += c;
    }
  }
  re_.emplace(re);
}

std::optional<ImageDirMatch> ImageDirMatcher::Match(const std::filesystem::path& image) const {
  if (!re_) {
    return std::nullopt;
  }
  for (auto dir = image.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    std::smatch m;
    const std::string d = dir.string();
    if (std::regex_match(d, m, *re_)) {
      ImageDirMatch f;
      for (std::size_t i = 0; i < names_.size(); ++i) {
        const std::string& name = names_[i];
        std::optional<std::string>& field = name == "job"    ? f.job
                                            : name == "step" ? f.step
                                            : name == "task" ? f.task
                                                             : f.user;
        field = m[i + 1].str();
      }
      return f;
    }
    if (dir == dir.root_path()) {
      break;
    }
  }
  return std::nullopt;
}

std::string ImageFileName(const ImageName& n) {
  return n.job + "." + n.step + "." + n.task + ".r" + std::to_string(n.restart) + "." +
         std::to_string(n.seq) + "-" + n.trigger + ".kcr";
}

}  // namespace kcr::config
