// The pid namespace a restore with the image's own ids runs in
// (pid_namespace.cpp): shared by RestartWithIds() and a tree's restore.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include <kcr/restart.h>
#include <kcr/status.h>
#include "program_clocks.h"

namespace kcr {

// What the namespace's first process, which has the image's pid, runs to
// become the program (in place); returns only on failure. `report_fd`
// reaches the caller (ReportRefused()).
using RestoreBody = std::function<Status(const RestartOptions& options, int report_fd)>;

// RestartWithIds() with any restore: the namespaces, the first process with
// pid `first_pid` running `body`, signals passed on, and how it ended.
// `clocks`, the program's at its checkpoint, get a time namespace where
// they would jump (program_clocks.h).
Status RestartInNamespace(pid_t first_pid, std::optional<ProgramClocks> clocks,
                          const RestoreBody& body, const RestartOptions& options, int* wait_status);

// Writes a /proc (or /sys) file whole: ns_last_pid, id maps.
Status WriteProcFile(const std::string& path, const std::string& text);

// Another process of the namespace (a tree's member) tells the caller why
// the restore cannot go on; the caller ends the whole namespace.
void ReportRefused(int report_fd, const Status& st);

}  // namespace kcr
