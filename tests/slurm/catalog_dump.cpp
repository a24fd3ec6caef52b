// catalog_dump: prints one job's catalog rows in a fixed, greppable form for
// the Slurm tests (independent of how `kcr catalog list` formats them).
//
//   catalog_dump CATALOG JOBID
//   ckpt id=3 step=batch task=0 trigger=periodic state=VERIFIED restart=0 bytes=5251072 reason=
//   image=/x restore id=1 ckpt=3 outcome=succeeded error=
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <vector>

#include "kcr/catalog/catalog.h"

int main(int argc, char** argv) {
  namespace cat = kcr::catalog;
  if (argc != 3) {
    fmt::print(stderr, "usage: catalog_dump CATALOG JOBID\n");
    return 64;
  }
  try {
    cat::OpenOptions o;
    o.read_only = true;
    auto c = cat::Catalog::open(argv[1], o);
    cat::ListFilter f;
    f.job = static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10));
    auto rows = c.list(f);
    std::vector<cat::RestoreRow> restores;
    for (const auto& r : rows) {
      fmt::print(
          "ckpt id={} step={} task={} trigger={} state={} restart={} bytes={} reason={} "
          "image={}\n",
          r.id, cat::step_name(r.info.step_id), r.info.task, cat::to_string(r.info.trigger),
          cat::to_string(r.state), r.info.restart_count, r.bytes, r.state_reason,
          r.info.image_path);
      for (auto& rr : c.restores_of(r.id))
        restores.push_back(rr);
    }
    std::sort(restores.begin(), restores.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& rr : restores) {
      fmt::print("restore id={} ckpt={} outcome={} error={}\n", rr.id, rr.checkpoint_id.value_or(0),
                 cat::to_string(rr.outcome), rr.error_text);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "catalog_dump: {}\n", e.what());
    return 1;
  }
  return 0;
}
