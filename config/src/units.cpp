// Durations, sizes and the checkpoint interval:
// the value-level rules of kcr.yaml, apart from the YAML reading itself.
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "kcr/config/config.h"

namespace kcr::config {

namespace {

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = Lower(c);
  }
  return out;
}

}  // namespace

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text == "0") {
    return std::chrono::seconds(0);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data() + text.size() || n < 0) {
      return std::nullopt;  // no number, or a number without its unit
    }
    i = static_cast<std::size_t>(end - text.data());
    std::int64_t unit = 0;
    switch (Lower(text[i])) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    if (n > (std::numeric_limits<std::int64_t>::max() - total) / unit) {
      return std::nullopt;
    }
    total += n * unit;
  }
  return std::chrono::seconds(total);
}

std::optional<std::uint64_t> ParseSize(std::string_view text) {
  if (text == "0") {
    return 0;
  }
  std::size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0 || digits == text.size()) {
    return std::nullopt;  // no number, or no unit
  }
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) {
    return std::nullopt;
  }
  std::string unit = Lowered(text.substr(digits));
  if (!unit.empty() && unit.front() == ' ') {
    unit.erase(0, 1);
  }
  double scale = 0;
  if (unit == "b") {
    scale = 1;
  } else {
    static constexpr std::string_view kPrefixes = "kmgtp";
    auto p = unit.empty() ? std::string_view::npos : kPrefixes.find(unit.front());
    if (p == std::string_view::npos) {
      return std::nullopt;
    }
    std::string_view rest = std::string_view(unit).substr(1);
    double base = 0;
    if (rest.empty() || rest == "ib") {
      base = 1024;  // "500M" means MiB, as in Slurm
    } else if (rest == "b") {
      base = 1000;
    } else {
      return std::nullopt;
    }
    scale = std::pow(base, static_cast<double>(p + 1));
  }
  double bytes = std::round(number * scale);
  if (!(bytes >= 0) || bytes >= 18446744073709551615.0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(bytes);
}

std::chrono::seconds YoungDalyInterval(std::chrono::duration<double> cost,
                                       std::chrono::seconds mtbf) {
  const double c = cost.count();
  const double m = static_cast<double>(mtbf.count());
  if (m <= 0) {
    return std::chrono::seconds(0);
  }
  if (c <= 0) {
    return std::chrono::seconds(1);
  }
  if (c >= 2 * m) {
    return mtbf;  // checkpoints cost more than they save: one per MTBF
  }
  // J. T. Daly, "A higher order estimate of the optimum checkpoint interval
  // for restart dumps", FGCS 22 (2006), eq. 37.
  const double r = c / (2 * m);
  const double t = std::sqrt(2 * c * m) * (1 + std::sqrt(r) / 3 + r / 9) - c;
  return std::chrono::seconds(std::max<std::int64_t>(1, std::llround(t)));
}

std::chrono::seconds PeriodicInterval(const Config& config,
                                      std::chrono::duration<double> last_cost) {
  switch (config.checkpoint.interval.kind) {
    case Interval::Kind::kFixed:
      return config.checkpoint.interval.every;
    case Interval::Kind::kAuto:
      return YoungDalyInterval(last_cost, config.slurm.mtbf);
    case Interval::Kind::kNone:
      return std::chrono::seconds(0);
  }
  return std::chrono::seconds(0);
}

}  // namespace kcr::config
