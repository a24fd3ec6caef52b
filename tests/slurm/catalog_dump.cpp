// catalog_dump: prints one job's catalog rows in a fixed, greppable form for
// the Slurm tests (independent of how `kcr catalog list` formats them).
//
//   catalog_dump CATALOG JOBID
//   ckpt id=3 step=batch task=0 trigger=periodic state=VERIFIED restart=0 bytes=5251072 set=-
//        set_size=1 reason=
//   image=/x restore id=1 ckpt=3 outcome=succeeded error=
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kcr/catalog/catalog.h"

int main(int argc, char** argv) {
  namespace cat = kcr::catalog;
  if (argc != 3) {
    fmt::print(stderr, "usage: catalog_dump CATALOG JOBID\n");
    return 64;
  }
  cat::OpenOptions o;
  o.read_only = true;
  std::unique_ptr<cat::Catalog> c;
  cat::ListFilter f;
  f.job = static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10));
  std::vector<cat::CheckpointRow> rows;
  kcr::Status st = cat::Catalog::Open(argv[1], o, &c);
  if (st.ok())
    st = c->List(f, &rows);
  std::vector<cat::RestoreRow> restores;
  for (const auto& r : rows) {
    if (!st.ok())
      break;
    fmt::print(
        "ckpt id={} step={} task={} trigger={} state={} restart={} bytes={} set={} set_size={} "
        "reason={} image={}\n",
        r.id, cat::StepName(r.info.step_id), r.info.task, cat::ToString(r.info.trigger),
        cat::ToString(r.state), r.info.restart_count, r.bytes,
        r.set_key ? std::to_string(*r.set_key) : "-", r.set_size, r.state_reason,
        r.info.image_path);
    std::vector<cat::RestoreRow> of;
    st = c->RestoresOf(r.id, &of);
    restores.insert(restores.end(), of.begin(), of.end());
  }
  if (!st.ok()) {
    fmt::print(stderr, "catalog_dump: {}\n", st.message());
    return 1;
  }
  std::sort(restores.begin(), restores.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& rr : restores) {
    fmt::print("restore id={} ckpt={} outcome={} error={}\n", rr.id, rr.checkpoint_id.value_or(0),
               cat::ToString(rr.outcome), rr.error_text);
  }
  return 0;
}
