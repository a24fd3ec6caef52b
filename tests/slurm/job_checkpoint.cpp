// job_checkpoint: `kcr checkpoint --job JOBID[.STEP]` for the tests, until
// the kcr command line has it (it calls the same kcr_slurm_request library).
//
//   job_checkpoint SPOOL_DIR JOBID[.STEP]
#include <fmt/format.h>

#include <kcr/slurm_request.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: job_checkpoint SPOOL_DIR JOBID[.STEP]\n");
    return 64;
  }
  char out[16384];
  int rc = kcr_spank_request_checkpoint(argv[2], argv[1], 600, out, sizeof(out));
  if (rc < 0) {
    fmt::print(stderr, "job_checkpoint: {}\n", out);
    return 2;
  }
  fmt::print("{}", out);
  return rc;
}
