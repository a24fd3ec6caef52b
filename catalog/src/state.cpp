#include "kcr/catalog/state.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string>

#include "kcr/catalog/records.h"

namespace kcr::catalog {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

constexpr std::array<std::string_view, 7> kStateNames = {
    "WRITING", "COMMITTED", "VERIFIED", "FAILED", "CORRUPT", "EXPIRED", "DELETED"};
constexpr std::array<std::string_view, 6> kTriggerNames = {"periodic", "preempt",      "timelimit",
                                                           "manual",   "requeue-test", "unknown"};
constexpr std::array<std::string_view, 3> kOutcomeNames = {"started", "succeeded", "failed"};

template <typename Enum, std::size_t N>
std::optional<Enum> ParseName(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (IEquals(names[i], text)) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(State state) {
  return kStateNames.at(static_cast<std::size_t>(state));
}

std::optional<State> ParseState(std::string_view text) {
  return ParseName<State>(kStateNames, text);
}

bool CanMove(State from, State to) {
  using S = State;
  switch (from) {
    case S::kWriting:
      return to == S::kCommitted || to == S::kFailed;
    case S::kCommitted:
      return to == S::kVerified || to == S::kCorrupt || to == S::kExpired || to == S::kDeleted;
    case S::kVerified:
      return to == S::kCorrupt || to == S::kExpired || to == S::kDeleted;
    case S::kFailed:
    case S::kCorrupt:
    case S::kExpired:
      return to == S::kDeleted;
    case S::kDeleted:
      return false;
  }
  return false;
}

std::string_view ToString(Trigger trigger) {
  return kTriggerNames.at(static_cast<std::size_t>(trigger));
}

std::optional<Trigger> ParseTrigger(std::string_view text) {
  return ParseName<Trigger>(kTriggerNames, text);
}

std::string_view ToString(RestoreOutcome outcome) {
  return kOutcomeNames.at(static_cast<std::size_t>(outcome));
}

std::optional<RestoreOutcome> ParseRestoreOutcome(std::string_view text) {
  return ParseName<RestoreOutcome>(kOutcomeNames, text);
}

std::string JobName(std::uint32_t job_id) {
  return job_id == kManualJob ? std::string("manual") : std::to_string(job_id);
}

std::string StepName(std::uint32_t step_id) {
  switch (step_id) {
    case kStepBatch:
      return "batch";
    case kStepExtern:
      return "extern";
    case kStepInteractive:
      return "interactive";
    default:
      return std::to_string(step_id);
  }
}

std::optional<std::uint32_t> ParseStep(std::string_view text) {
  if (IEquals(text, "batch")) {
    return kStepBatch;
  }
  if (IEquals(text, "extern")) {
    return kStepExtern;
  }
  if (IEquals(text, "interactive")) {
    return kStepInteractive;
  }
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace kcr::catalog
