// spank_kcr: Slurm SPANK plugin for kcr.
//
// For now it only proves the plugin loads into Slurm (slurmd logs "Loaded
// plugin spank_kcr.so"); the --checkpoint options and the per-step agent
// come with the Slurm integration (issue 5).
extern "C" {
#include <slurm/spank.h>

SPANK_PLUGIN(kcr, 1);

int slurm_spank_init(spank_t, int, char**) { return ESPANK_SUCCESS; }
}
