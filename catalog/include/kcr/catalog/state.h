// The life of a checkpoint row and the words the catalog stores for it.
//
//   WRITING ──► COMMITTED ──► VERIFIED
//      │            │            │
//      ▼            ▼            ▼
//    FAILED    CORRUPT / EXPIRED / DELETED      (FAILED, CORRUPT, EXPIRED ──► DELETED)
//
// Only COMMITTED and VERIFIED rows name a whole image a restart may use.
// DELETED is final. CanMove() is the one place that says which moves exist;
// the catalog refuses every other one (docs/catalog.md has the full table).
#pragma once

#include <optional>
#include <string_view>

namespace kcr::catalog {

enum class State { kWriting, kCommitted, kVerified, kFailed, kCorrupt, kExpired, kDeleted };
inline constexpr State kAllStates[] = {State::kWriting, State::kCommitted, State::kVerified,
                                       State::kFailed,  State::kCorrupt,   State::kExpired,
                                       State::kDeleted};

// "WRITING", "COMMITTED", ...: the stored and printed spelling.
std::string_view ToString(State state);
// Case-insensitive; nullopt for anything else.
std::optional<State> ParseState(std::string_view text);
bool CanMove(State from, State to);
// COMMITTED or VERIFIED: the image was whole when last looked at.
inline bool IsGood(State s) {
  return s == State::kCommitted || s == State::kVerified;
}

// Why a checkpoint was taken. kUnknown is only for rows re-created by
// `kcr catalog rebuild`, since an image does not record its trigger.
enum class Trigger { kPeriodic, kPreempt, kTimelimit, kManual, kRequeueTest, kUnknown };
std::string_view ToString(Trigger trigger);  // "periodic", ..., "requeue-test", "unknown"
std::optional<Trigger> ParseTrigger(std::string_view text);

// A restore row is added as kStarted before the image is handed to the
// kernel; a restart that fails moves it to kFailed. A successful restart
// does not return to its caller, so kSucceeded is set by whoever sees the
// restored process run (the Slurm plugin), if anyone.
enum class RestoreOutcome { kStarted, kSucceeded, kFailed };
std::string_view ToString(RestoreOutcome outcome);  // "started", "succeeded", "failed"
std::optional<RestoreOutcome> ParseRestoreOutcome(std::string_view text);

}  // namespace kcr::catalog
