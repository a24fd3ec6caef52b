#include "options.h"

#include <fmt/format.h>

#include <charconv>

#include "kcr/config/config.h"
#include "kcr/util/status_format.h"
#include "kcr/util/units.h"

namespace kcr::spank {

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos)
      comma = text.size();
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

}  // namespace

Status ParseInterval(std::string_view text, Interval* out) {
  if (text == "off") {
    *out = Interval{};
    return Status::Ok();
  }
  if (text == "none") {
    *out = Interval{Interval::Kind::kNone, {}};
    return Status::Ok();
  }
  if (text == "auto") {
    *out = Interval{Interval::Kind::kAuto, {}};
    return Status::Ok();
  }
  if (AllDigits(text)) {
    // Slurm reads bare numbers as minutes, people often mean seconds: refuse to guess.
    return Errorf(EINVAL, "'{}' has no unit; write e.g. 90s, 10m or 2h (or auto, none, off)", text);
  }
  auto d = config::ParseDuration(text);
  if (!d) {
    return Errorf(EINVAL,
                  "'{}' is not an interval; write e.g. 90s, 10m, 2h or 1h30m (or auto, none, "
                  "off)",
                  text);
  }
  if (d->count() <= 0) {
    return Status::Error(EINVAL,
                         "an interval must be longer than 0s; write off to turn checkpoints off");
  }
  *out = Interval{Interval::Kind::kFixed, *d};
  return Status::Ok();
}

Status ParseTriggers(std::string_view text, Triggers* out) {
  if (text == "none") {
    *out = Triggers{false, false};
    return Status::Ok();
  }
  Triggers t{false, false};
  for (std::string_view item : SplitList(text)) {
    if (item == "preempt") {
      t.preempt = true;
    } else if (item == "timelimit") {
      t.timelimit = true;
    } else {
      return Errorf(EINVAL,
                    "'{}' is not a trigger; write preempt, timelimit, preempt,timelimit or "
                    "none",
                    item);
    }
  }
  *out = t;
  return Status::Ok();
}

Status ParseRestartFrom(std::string_view text, RestartFrom* out) {
  if (text == "latest") {
    *out = RestartFrom{};
    return Status::Ok();
  }
  if (text == "none") {
    *out = RestartFrom{RestartFrom::Kind::kNone, 0};
    return Status::Ok();
  }
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (!AllDigits(text) || ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return Errorf(EINVAL, "'{}' is not latest, none or a checkpoint id (see kcr catalog list)",
                  text);
  }
  *out = RestartFrom{RestartFrom::Kind::kId, id};
  return Status::Ok();
}

Status CheckDirPattern(std::string_view text) {
  return config::CheckImageDir(text);
}

std::string ToString(const Interval& interval) {
  switch (interval.kind) {
    case Interval::Kind::kOff:
      return "off";
    case Interval::Kind::kNone:
      return "none";
    case Interval::Kind::kAuto:
      return "auto";
    case Interval::Kind::kFixed:
      return util::FormatDuration(interval.every, util::DurationStyle::kCompound);
  }
  return "?";
}

std::string ToString(const Triggers& t) {
  if (t.preempt && t.timelimit)
    return "preempt,timelimit";
  if (t.preempt)
    return "preempt";
  if (t.timelimit)
    return "timelimit";
  return "none";
}

std::string ToString(const RestartFrom& from) {
  switch (from.kind) {
    case RestartFrom::Kind::kLatest:
      return "latest";
    case RestartFrom::Kind::kNone:
      return "none";
    case RestartFrom::Kind::kId:
      return std::to_string(from.id);
  }
  return "?";
}

Status ParseSiteArgs(const std::vector<std::string>& args, SiteOptions* site) {
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return Errorf(EINVAL, "plugstack.conf argument '{}' is not key=value", arg);
    }
    std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
    std::string sub;
    auto duration = [&](auto* out, bool allow_zero) {
      auto d = config::ParseDuration(value);
      if (!d || (!allow_zero && d->count() == 0)) {
        sub = fmt::format("'{}' is not a duration (e.g. 1s, 10m)", value);
        return false;
      }
      *out = std::chrono::duration_cast<std::remove_pointer_t<decltype(out)>>(*d);
      return true;
    };
    bool ok = true;
    if (key == "backend") {
      // The front's: where spank_kcr_backend.so is (spank_kcr.cpp).
    } else if (key == "config") {
      site->config_path = value;
    } else if (key == "default") {
      Status st = ParseInterval(value, &site->interval);
      ok = st.ok();
      sub = st.message();
    } else if (key == "dir") {
      Status st = CheckDirPattern(value);
      ok = st.ok();
      sub = st.message();
      if (ok)
        site->dir = value;
    } else if (key == "on") {
      Status st = ParseTriggers(value, &site->on);
      ok = st.ok();
      sub = st.message();
    } else if (key == "spool") {
      ok = !value.empty() && value.front() == '/';
      if (!ok)
        sub = "must be an absolute directory";
      site->spool_dir = value;
    } else if (key == "srun_sigterm") {
      ok = value == "ignore" || value == "default";
      if (!ok)
        sub = "must be ignore or default";
      site->srun_ignore_sigterm = value == "ignore";
    } else if (key == "poll") {
      // A sub-second poll is allowed as e.g. "poll=500ms".
      if (value.ends_with("ms") && AllDigits(value.substr(0, value.size() - 2))) {
        site->poll = std::chrono::milliseconds(std::stoll(value.substr(0, value.size() - 2)));
        ok = site->poll.count() > 0;
        if (!ok)
          sub = "must be more than 0";
      } else {
        ok = duration(&site->poll, false);
      }
    } else if (key == "min_interval") {
      ok = duration(&site->min_interval, true);
    } else if (key == "mtbf") {
      ok = duration(&site->mtbf, false);
    } else {
      return Errorf(EINVAL,
                    "unknown plugstack.conf argument '{}' (known: config, default, dir, on, "
                    "spool, srun_sigterm, poll, min_interval, mtbf, backend)",
                    key);
    }
    if (!ok) {
      return Errorf(EINVAL, "plugstack.conf argument {}: {}", key, sub);
    }
  }
  return Status::Ok();
}

Settings Resolve(const SiteOptions& site, const JobOptions& job,
                 std::string_view config_image_dir) {
  Settings s;
  s.interval = job.interval.value_or(site.interval);
  if (job.dir) {
    s.dir_pattern = *job.dir;
    s.dir_from_user = true;
  } else {
    s.dir_pattern = site.dir.value_or(std::string(config_image_dir));
  }
  s.on = job.on.value_or(site.on);
  s.restart_from = job.restart_from.value_or(RestartFrom{});
  return s;
}

}  // namespace kcr::spank
