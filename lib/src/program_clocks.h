// The program's clocks across a restore (program_clocks.cpp): the one
// owner of when a restored program needs a time namespace, and of its
// offsets.
//
// Restored on the boot it was saved on, a program reads the kernel's
// clocks, as a stopped process would: the time it spent saved has passed.
// Restored after a reboot or on another node, the kernel's CLOCK_MONOTONIC
// and CLOCK_BOOTTIME mean another boot's: without a time namespace they
// would jump, backwards as often as not. There it gets a time namespace
// whose offsets make both continue from their values at the checkpoint,
// as CRIU does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <kcr/kcr_uapi.h>
#include <kcr/status.h>

namespace kcr {

// The program's clocks as it read them when it was parked.
struct ProgramClocks {
  int64_t monotonic_ns = 0;
  int64_t boottime_ns = 0;
  int64_t realtime_ns = 0;
};

// The image's; none in an image older than the clocks.
std::optional<ProgramClocks> ClocksOf(const kcr_image_header& header);

// The latest of two readings (a tree's members were parked one after the
// other: continuing from the latest, none of them sees its clocks go back).
ProgramClocks Latest(const ProgramClocks& a, const ProgramClocks& b);

// Whether the program, restored here without a time namespace, would see
// its clocks jump: the boot it saw (its realtime less its boottime) is not
// this process's (another boot or node, or a time namespace of its own).
bool ClocksWouldJump(const ProgramClocks& clocks);

// The offsets, as /proc/PID/timens_offsets takes them, of a time namespace
// this process makes next (its offsets start as a copy of this process's
// namespace's), in which `clocks` are read now and time runs on from there.
std::string ClockOffsets(const ProgramClocks& clocks);

// Sets them for this process's new time namespace (unshare(CLONE_NEWTIME),
// before any process entered it).
Status SetClockOffsets(const std::string& offsets);

}  // namespace kcr
