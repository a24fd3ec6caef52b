#include "kcr/catalog/format.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <functional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kcr/util/units.h"

namespace kcr::catalog {

namespace {

using util::HumanBytes;

// ---- plain text helpers ----

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

std::string OptTime(const std::optional<std::int64_t>& ns) {
  return ns ? UtcTime(*ns) : std::string();
}

std::string Seconds(std::uint64_t ns) {
  return fmt::format("{:.3f}", static_cast<double>(ns) / 1e9);
}

std::string ChecksumHex(std::uint64_t c) {
  return fmt::format("{:016x}", c);
}

// JSON goes through nlohmann's ordered_json: fields keep the order they are
// added in, which is the documented, stable order (docs/catalog.md).
using Json = nlohmann::ordered_json;

template <typename T>
Json Nullable(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json NullableTime(const std::optional<std::int64_t>& ns) {
  return ns ? Json(UtcTime(*ns)) : Json(nullptr);
}

// A whole document: two-space indentation, a final newline. Bytes that are
// not UTF-8 (a path may hold any) become U+FFFD rather than invalid JSON.
std::string JsonDocument(const Json& doc) {
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// A table of strings rendered in any of the four formats. Machine formats
// get `machine` cells (exact numbers, UTC); tables get `human` cells.
struct Column {
  std::string name;
  bool right = false;  // numbers align right in tables
};

std::string RenderGrid(const std::vector<Column>& cols,
                       const std::vector<std::vector<std::string>>& rows, Format format) {
  std::string out;
  if (format == Format::kCsv || format == Format::kParsable) {
    const char* sep = format == Format::kCsv ? "," : "|";
    auto cell = [&](std::string_view s) {
      return format == Format::kCsv ? CsvField(s) : std::string(s);
    };
    for (std::size_t i = 0; i < cols.size(); ++i) {
      out += (i ? sep : "") + cell(cols[i].name);
    }
    out += "\n";
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        out += (i ? sep : "") + cell(row[i]);
      }
      out += "\n";
    }
    return out;
  }
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    width[i] = cols[i].name.size();
    for (const auto& row : rows) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      if (i) {
        l += "  ";
      }
      if (cols[i].right) {
        l += fmt::format("{:>{}}", cells[i], width[i]);
      } else {
        l += last ? cells[i] : fmt::format("{:<{}}", cells[i], width[i]);
      }
    }
    return l + "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : cols) {
    header.push_back(c.name);
  }
  out += line(header);
  for (const auto& row : rows) {
    out += line(row);
  }
  return out;
}

Json CheckpointJson(const CheckpointRow& r) {
  const auto& i = r.info;
  return Json{
      {"id", r.id},
      {"job", i.job_id == kManualJob ? Json(nullptr) : Json(i.job_id)},
      {"array_job", Nullable(i.array_job_id)},
      {"array_task", Nullable(i.array_task_id)},
      {"partition", i.partition},
      {"step", i.step_id},
      {"step_name", StepName(i.step_id)},
      {"task", i.task},
      {"node", i.node},
      {"pid", i.pid},
      {"uid", i.uid},
      {"user", i.user},
      {"image_path", i.image_path},
      {"bytes", r.bytes},
      {"checksum", ChecksumHex(r.checksum)},
      {"trigger", ToString(i.trigger)},
      {"parent", Nullable(i.parent_id)},
      {"set", Nullable(r.set_key)},
      {"set_size", r.set_size},
      {"state", ToString(r.state)},
      {"state_reason", r.state_reason},
      {"created", NullableTime(i.created_ns)},
      {"committed", NullableTime(r.committed_ns)},
      {"verified", NullableTime(r.verified_ns)},
      {"state_changed", NullableTime(r.state_changed_ns)},
      {"freeze_seconds", static_cast<double>(r.freeze_ns) / 1e9},
      {"write_seconds", static_cast<double>(r.write_ns) / 1e9},
      {"kcr_version", i.kcr_version},
      {"kernel_release", i.kernel_release},
  };
}

}  // namespace

std::optional<Format> ParseFormat(std::string_view text) {
  if (text == "table") {
    return Format::kTable;
  }
  if (text == "json") {
    return Format::kJson;
  }
  if (text == "csv") {
    return Format::kCsv;
  }
  if (text == "parsable" || text == "parsable2") {
    return Format::kParsable;
  }
  return std::nullopt;
}

std::string UtcTime(std::int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string LocalTime(std::int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string RenderCheckpoints(std::span<const CheckpointRow> rows, Format format) {
  if (format == Format::kJson) {
    Json items = Json::array();
    for (const auto& r : rows) {
      items.push_back(CheckpointJson(r));
    }
    return JsonDocument({{"format_version", kJsonFormatVersion}, {"checkpoints", items}});
  }
  std::vector<std::vector<std::string>> cells;
  if (format == Format::kTable) {
    const std::vector<Column> cols = {{"ID", true},   {"JOB", true}, {"STEP"},  {"TASK", true},
                                      {"USER"},       {"NODE"},      {"STATE"}, {"TRIGGER"},
                                      {"SIZE", true}, {"CREATED"},   {"IMAGE"}};
    for (const auto& r : rows) {
      const auto& i = r.info;
      cells.push_back({std::to_string(r.id), JobName(i.job_id), StepName(i.step_id),
                       std::to_string(i.task), i.user, i.node, std::string(ToString(r.state)),
                       std::string(ToString(i.trigger)),
                       r.state == State::kWriting ? "-" : HumanBytes(r.bytes),
                       LocalTime(r.created_ns()), i.image_path});
    }
    return RenderGrid(cols, cells, format);
  }
  const std::vector<Column> cols = {
      {"id"},         {"job"},         {"step"},    {"task"},        {"user"},
      {"uid"},        {"node"},        {"pid"},     {"state"},       {"trigger"},
      {"bytes"},      {"checksum"},    {"created"}, {"committed"},   {"verified"},
      {"freeze_s"},   {"write_s"},     {"parent"},  {"kcr_version"}, {"kernel_release"},
      {"image_path"}, {"state_reason"}};
  for (const auto& r : rows) {
    const auto& i = r.info;
    cells.push_back({std::to_string(r.id),
                     JobName(i.job_id),
                     StepName(i.step_id),
                     std::to_string(i.task),
                     i.user,
                     std::to_string(i.uid),
                     i.node,
                     std::to_string(i.pid),
                     std::string(ToString(r.state)),
                     std::string(ToString(i.trigger)),
                     std::to_string(r.bytes),
                     ChecksumHex(r.checksum),
                     UtcTime(r.created_ns()),
                     OptTime(r.committed_ns),
                     OptTime(r.verified_ns),
                     Seconds(r.freeze_ns),
                     Seconds(r.write_ns),
                     i.parent_id ? std::to_string(*i.parent_id) : "",
                     i.kcr_version,
                     i.kernel_release,
                     i.image_path,
                     r.state_reason});
  }
  return RenderGrid(cols, cells, format);
}

std::string RenderCheckpoint(const CheckpointRow& r, std::span<const RestoreRow> restores,
                             Format format) {
  if (format == Format::kJson) {
    Json items = Json::array();
    for (const auto& x : restores) {
      items.push_back({
          {"id", x.id},
          {"checkpoint", Nullable(x.checkpoint_id)},
          {"image_path", x.image_path},
          {"node", x.node},
          {"uid", x.uid},
          {"started", NullableTime(x.started_ns)},
          {"finished", NullableTime(x.finished_ns)},
          {"outcome", ToString(x.outcome)},
          {"error", x.error_text},
      });
    }
    return JsonDocument({{"format_version", kJsonFormatVersion},
                         {"checkpoint", CheckpointJson(r)},
                         {"restores", items}});
  }
  if (format != Format::kTable) {
    // One checkpoint is one row of `list`; restores are in the table and JSON views.
    return RenderCheckpoints(std::span(&r, 1), format);
  }
  const auto& i = r.info;
  std::vector<std::pair<std::string, std::string>> kv = {
      {"ID", std::to_string(r.id)},
      {"Job", JobName(i.job_id) + (i.array_job_id ? fmt::format(" (array {}_{})", *i.array_job_id,
                                                                i.array_task_id.value_or(0))
                                                  : "")},
      {"Step", StepName(i.step_id)},
      {"Task", std::to_string(i.task)},
      {"Partition", i.partition.empty() ? "-" : i.partition},
      {"User", fmt::format("{} ({})", i.user, i.uid)},
      {"Node", i.node},
      {"PID", std::to_string(i.pid)},
      {"State", std::string(ToString(r.state)) +
                    (r.state_reason.empty() ? "" : fmt::format(" ({})", r.state_reason))},
      {"Trigger", std::string(ToString(i.trigger))},
      {"Image", i.image_path},
      {"Size", fmt::format("{} ({} bytes)", HumanBytes(r.bytes), r.bytes)},
      {"Checksum", ChecksumHex(r.checksum)},
      {"Parent", i.parent_id ? std::to_string(*i.parent_id) : "-"},
      {"Set", r.set_key ? fmt::format("{} (the step's {} tasks at one moment; restored only "
                                      "together)",
                                      *r.set_key, r.set_size)
                        : "-"},
      {"Created", LocalTime(r.created_ns())},
      {"Committed", r.committed_ns ? LocalTime(*r.committed_ns) : "-"},
      {"Verified", r.verified_ns ? LocalTime(*r.verified_ns) : "-"},
      {"Freeze", fmt::format("{} s", Seconds(r.freeze_ns))},
      {"Write", fmt::format("{} s", Seconds(r.write_ns))},
      {"kcr version", i.kcr_version},
      {"Kernel", i.kernel_release},
  };
  std::string out;
  for (const auto& [k, v] : kv) {
    out += fmt::format("{:<12} {}\n", k + ":", v);
  }
  if (restores.empty()) {
    out += "Restores:    none\n";
    return out;
  }
  out += "Restores:\n";
  std::vector<std::vector<std::string>> cells;
  for (const auto& x : restores) {
    cells.push_back({std::to_string(x.id), LocalTime(x.started_ns), x.node,
                     std::string(ToString(x.outcome)), x.error_text});
  }
  std::string table =
      RenderGrid({{"ID", true}, {"STARTED"}, {"NODE"}, {"OUTCOME"}, {"ERROR"}}, cells, format);
  for (std::size_t pos = 0; pos < table.size();) {
    std::size_t nl = table.find('\n', pos);
    out += "  " + table.substr(pos, nl - pos + 1);
    pos = nl + 1;
  }
  return out;
}

std::string RenderStats(const Stats& stats, Format format) {
  auto rate = [](const UsageStats& u, bool human) {
    auto r = u.SuccessRate();
    if (!r) {
      return std::string(human ? "-" : "");
    }
    return human ? fmt::format("{:.1f}%", *r * 100) : fmt::format("{:.4f}", *r);
  };
  auto spg = [](const UsageStats& u, bool human) {
    auto s = u.SecondsPerGib();
    if (!s) {
      return std::string(human ? "-" : "");
    }
    return fmt::format("{:.2f}", *s);
  };
  if (format == Format::kJson) {
    auto to_json = [&](const UsageStats& u, bool with_job) {
      Json o = Json::object();
      if (with_job) {
        o["job"] = Nullable(u.job_id == kManualJob ? std::nullopt : u.job_id);
      }
      o["uid"] = u.uid;
      o["user"] = u.user;
      o["checkpoints"] = u.checkpoints;
      o["committed"] = u.committed;
      o["failed"] = u.failed;
      o["live"] = u.live;
      o["live_bytes"] = u.live_bytes;
      o["written_bytes"] = u.written_bytes;
      o["success_rate"] = Nullable(u.SuccessRate());
      o["seconds_per_gib"] = Nullable(u.SecondsPerGib());
      o["restores"] = u.restores;
      return o;
    };
    Json users = Json::array(), jobs = Json::array();
    for (const auto& u : stats.per_user) {
      users.push_back(to_json(u, false));
    }
    for (const auto& u : stats.per_job) {
      jobs.push_back(to_json(u, true));
    }
    return JsonDocument(
        {{"format_version", kJsonFormatVersion}, {"per_user", users}, {"per_job", jobs}});
  }
  const bool human = format == Format::kTable;
  auto row = [&](const UsageStats& u, std::string scope, std::string key) {
    std::vector<std::string> cells;
    if (!human) {
      cells.push_back(std::move(scope));
    }
    cells.push_back(std::move(key));
    if (human) {
      cells.push_back(u.user);
    } else {
      cells.push_back(u.user);
      cells.push_back(std::to_string(u.uid));
    }
    cells.push_back(std::to_string(u.checkpoints));
    cells.push_back(std::to_string(u.live));
    cells.push_back(human ? HumanBytes(u.live_bytes) : std::to_string(u.live_bytes));
    cells.push_back(rate(u, human));
    cells.push_back(spg(u, human));
    cells.push_back(std::to_string(u.restores));
    return cells;
  };
  if (!human) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& u : stats.per_user) {
      cells.push_back(row(u, "user", u.user));
    }
    for (const auto& u : stats.per_job) {
      cells.push_back(row(u, "job", JobName(u.job_id.value_or(kManualJob))));
    }
    return RenderGrid({{"scope"},
                       {"key"},
                       {"user"},
                       {"uid"},
                       {"checkpoints"},
                       {"live"},
                       {"live_bytes"},
                       {"success_rate"},
                       {"seconds_per_gib"},
                       {"restores"}},
                      cells, format);
  }
  auto section = [&](std::string_view key_name, const std::vector<UsageStats>& list, bool jobs) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& u : list) {
      cells.push_back(row(u, "", jobs ? JobName(u.job_id.value_or(kManualJob)) : u.user));
      if (!jobs) {
        cells.back().erase(cells.back().begin() + 1);  // the key already is the user
      }
    }
    std::vector<Column> cols = {{std::string(key_name), jobs}};
    if (jobs) {
      cols.push_back({"USER"});
    }
    for (Column c :
         {Column{"CHECKPOINTS", true}, Column{"LIVE", true}, Column{"LIVE SIZE", true},
          Column{"SUCCESS", true}, Column{"S/GIB WRITTEN", true}, Column{"RESTORES", true}}) {
      cols.push_back(c);
    }
    return RenderGrid(cols, cells, format);
  };
  return fmt::format("Per user:\n{}\nPer job:\n{}", section("USER", stats.per_user, false),
                     section("JOB", stats.per_job, true));
}

std::string RenderPrune(const PrunePlan& plan, bool dry_run, Format format) {
  if (format == Format::kJson) {
    Json items = Json::array();
    for (const auto& a : plan.actions) {
      items.push_back({
          {"id", a.id},
          {"action", ToString(a.kind)},
          {"state", ToString(a.from)},
          {"uid", a.uid},
          {"image_path", a.image_path},
          {"bytes", a.bytes},
          {"unlink_image", a.unlink_image},
          {"reason", a.reason},
      });
    }
    return JsonDocument({{"format_version", kJsonFormatVersion},
                         {"dry_run", dry_run},
                         {"actions", items},
                         {"notes", plan.notes}});
  }
  const bool human = format == Format::kTable;
  std::vector<std::vector<std::string>> cells;
  std::uint64_t bytes = 0;
  for (const auto& a : plan.actions) {
    bytes += a.unlink_image ? a.bytes : 0;
    cells.push_back({std::to_string(a.id), std::string(ToString(a.kind)),
                     std::string(ToString(a.from)),
                     human ? HumanBytes(a.bytes) : std::to_string(a.bytes),
                     a.unlink_image ? "yes" : "no (in use)", a.image_path, a.reason});
  }
  std::string out = RenderGrid({{human ? "ID" : "id", true},
                                {human ? "ACTION" : "action"},
                                {human ? "STATE" : "state"},
                                {human ? "SIZE" : "bytes", true},
                                {human ? "UNLINK" : "unlink"},
                                {human ? "IMAGE" : "image_path"},
                                {human ? "REASON" : "reason"}},
                               cells, format);
  if (human) {
    out += fmt::format("{} {} checkpoint(s), {} of images\n", dry_run ? "Would prune" : "Pruned",
                       plan.actions.size(), HumanBytes(bytes));
    for (const auto& n : plan.notes) {
      out += fmt::format("note: {}\n", n);
    }
  }
  return out;
}

}  // namespace kcr::catalog
