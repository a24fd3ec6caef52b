// The id maps of a restored task's user namespace, which the agent writes.
//
// A multi-threaded program is restored in a pid namespace of its own below
// its task (restore.h). The task is the job's user, so its child makes a
// user namespace first to own that pid namespace; but that child may not
// write its own id maps: slurmstepd changed the task's credentials, which
// makes it and its children non-dumpable (their /proc files are root's), and
// making it dumpable would show the user the slurmstepd memory it inherited.
// So the task asks the agent, which checks that the namespace is the task's
// child's own, fresh and owned by the job's user, and maps exactly the ids
// that child has — its uid and its groups — to themselves: nothing the user
// could not already use. The restorer drops every capability in the
// namespace before the restore, so the program has none.
#pragma once

#include <sys/types.h>

#include <kcr/status.h>

namespace kcr::spank {

// Writes setgroups ("deny"), uid_map and gid_map of `process`'s user
// namespace, after checking that `process` is a child of `task`, runs as
// `owner`, and is alone in a fresh user namespace that `owner` made. With
// `clocks` ("monotonic:SEC:NSEC,boottime:SEC:NSEC", the protocol's clocks=
// field), also the offsets of the time namespace `process` has made in it
// and nobody entered yet: the restored program's clocks, which it may set
// in its own namespace as anyone may in theirs.
Status MapRestoreIds(pid_t process, pid_t task, uid_t owner, const std::string& clocks);

// The clocks= field as /proc/PID/timens_offsets takes it; EINVAL for
// anything but the two clocks, each once, in range.
Status ParseClockOffsets(const std::string& clocks, std::string* offsets);

}  // namespace kcr::spank
