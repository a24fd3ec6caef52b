// kcr checkpoint PID -o FILE [--kill | --stop] [--privileged]
#include <fmt/format.h>

#include <unistd.h>

#include <kcr/util/image_files.h>
#include <kcr/util/units.h>

#include <kcr/checkpoint.h>
#include <kcr/slurm_request.h>
#include <kcr/tree.h>
#include "catalog_record.h"
#include "cli_config.h"
#include "commands.h"
#include "progress.h"

namespace kcr::cli {

namespace {

struct CheckpointArgs {
  pid_t pid = 0;
  std::string output;
  bool kill = false;
  bool stop = false;
  bool privileged = false;
  bool no_catalog = false;
  bool quiet = false;
  std::string job;  // JOB[.STEP]: ask the Slurm agent instead of naming a pid
  std::string spool_dir{kcr::slurm::kDefaultSpoolDir};
};

// kcr checkpoint --job J[.S]: the job's kcr agents on this node checkpoint
// every task now (trigger "manual"), write the images where the job's
// configuration says and record them in the catalog.
int RunJobCheckpoint(const CheckpointArgs& a) {
  auto target = kcr::slurm::ParseJobStep(a.job);
  if (!target) {
    fmt::print(stderr, "kcr checkpoint: --job takes JOBID or JOBID.STEP, not '{}'\n", a.job);
    return 1;
  }
  std::vector<kcr::slurm::TaskResult> results;
  Status st =
      kcr::slurm::RequestCheckpoint(a.spool_dir, *target, std::chrono::seconds(300), &results);
  if (!st.ok()) {
    fmt::print(stderr, "kcr checkpoint: job {}: {}\n", a.job, st.message());
    return 1;
  }
  bool all_ok = true;
  for (const auto& r : results) {
    if (r.ok) {
      fmt::print("{}.{} task {}: checkpointed -> {} ({}, {} ms, catalog #{})\n", r.job, r.step,
                 r.task, r.image, util::HumanBytes(r.bytes), r.ms, r.checkpoint_id);
    } else {
      all_ok = false;
      fmt::print("{}.{} task {}: not checkpointed: {}\n", r.job, r.step, r.task, r.reason);
    }
  }
  return all_ok ? 0 : 1;
}

// Users other than root usually cannot write the site catalog; their manual
// checkpoints are simply not recorded rather than warned about every time.
bool ShouldRecord(const CheckpointArgs& a, const std::string& catalog_path) {
  if (a.no_catalog)
    return false;
  if (::geteuid() == 0)
    return true;
  return ::access(catalog_path.c_str(), W_OK) == 0;
}

int RunCheckpoint(const CheckpointArgs& a) {
  if (!a.job.empty()) {
    if (a.pid != 0 || !a.output.empty()) {
      fmt::print(stderr, "kcr checkpoint: give either PID -o FILE or --job JOB[.STEP]\n");
      return 1;
    }
    if (a.kill || a.stop) {
      fmt::print(stderr,
                 "kcr checkpoint: --kill and --stop are for one process; a job's tasks keep "
                 "running after --job (to stop them, use scontrol suspend or requeue)\n");
      return 1;
    }
    if (a.privileged) {
      fmt::print(stderr,
                 "kcr checkpoint: --privileged is for one process; the job's agent applies "
                 "the job owner's rule to each task\n");
      return 1;
    }
    return RunJobCheckpoint(a);
  }
  if (a.pid <= 0 || a.output.empty()) {
    fmt::print(stderr, "kcr checkpoint: give PID -o FILE (or --job JOB[.STEP])\n");
    return 1;
  }
  catalog::CheckpointRecord record;
  const config::Config* config = nullptr;
  if (Status st = LoadedConfig(&config); !st.ok()) {
    fmt::print(stderr, "kcr checkpoint: {}\n", st.message());
    return 1;
  }
  if (ShouldRecord(a, config->catalog_path)) {
    record = RecordManualCheckpoint(config->catalog_path, {a.pid, a.output});
  }
  ProgressBar bar(fmt::format("checkpoint {}", a.pid), a.quiet ? 0 : EstimateImageBytes(a.pid));
  CheckpointOptions options;
  options.kill = a.kill;
  options.stop = a.stop;
  options.privileged = a.privileged;
  if (bar.enabled())
    options.progress = [&bar](uint64_t d, uint64_t t) { bar.Update(d, t); };
  // A process with children is saved with all its descendants, as one tree
  // image (a directory).
  AnyCheckpointResult any;
  Status st = CheckpointProcessOrTree(a.pid, a.output, options, &any);
  if (!st.ok()) {
    record.Failed(st.message());
    fmt::print(stderr, "kcr checkpoint: {}\n", st.message());
    return 1;
  }
  if (any.tree) {
    const TreeCheckpointResult& t = any.processes;
    uint64_t bytes = t.image_bytes;
    util::ImageBytes(a.output, &bytes);  // what the catalog finds there
    record.Committed({bytes, t.header_checksum, t.freeze_ns, t.write_ns});
    bar.Update(t.image_bytes, t.image_bytes);
    if (!a.quiet) {
      fmt::print(
          "checkpointed the tree of {} -> {} ({} processes, {} zombie, {} pipes; {}, {} "
          "pages; frozen {:.1f} ms)\n",
          a.pid, a.output, t.processes.size(), t.zombies, t.pipes, util::HumanBytes(t.image_bytes),
          t.pages_saved, static_cast<double>(t.freeze_ns) / 1e6);
    }
    return 0;
  }
  const CheckpointResult& r = any.process;
  record.Committed({r.image_bytes, r.header_checksum, r.freeze_ns, r.write_ns});
  bar.Update(r.image_bytes, r.image_bytes);
  if (!a.quiet) {
    fmt::print("checkpointed {} -> {} ({}, {} pages; freeze {:.1f} ms, write {:.1f} ms)\n", a.pid,
               a.output, util::HumanBytes(r.image_bytes), r.pages_saved,
               static_cast<double>(r.freeze_ns) / 1e6, static_cast<double>(r.write_ns) / 1e6);
    if (a.stop)
      fmt::print("process {} is stopped; kill -CONT {} resumes it\n", a.pid, a.pid);
  }
  return 0;
}

}  // namespace

void RegisterCheckpoint(CLI::App& app) {
  auto args = std::make_shared<CheckpointArgs>();
  auto* cmd = app.add_subcommand("checkpoint", "checkpoint a running process into an image");
  cmd->add_option("pid", args->pid, "process to checkpoint");
  cmd->add_option("-o,--output", args->output, "image file to write");
  cmd->add_option("--job", args->job,
                  "checkpoint every task of Slurm job JOB[.STEP] on this node, now");
  cmd->add_option("--spool", args->spool_dir, "the plugin's spool= directory (default /run/kcr)");
  auto* kill =
      cmd->add_flag("--kill", args->kill, "kill the process once the image is safely written");
  cmd->add_flag("--stop", args->stop,
                "leave the process stopped (as by SIGSTOP; kill -CONT resumes it) once the image "
                "is written")
      ->excludes(kill);
  cmd->add_flag("--privileged", args->privileged,
                "also a process its own user could not attach to (not dumpable: a set-id "
                "program, prctl(PR_SET_DUMPABLE, 0); or with capabilities); needs "
                "CAP_SYS_PTRACE, and the image stays yours");
  cmd->add_flag("--no-catalog", args->no_catalog, "do not record the checkpoint in the catalog");
  cmd->add_flag("-q,--quiet", args->quiet, "print nothing on success");
  cmd->callback([args] { throw Exit{RunCheckpoint(*args)}; });
}

}  // namespace kcr::cli
