#include "kcr/catalog/retention.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "kcr/catalog/format.h"
#include "kcr/util/units.h"

namespace kcr::catalog {

namespace {

// A series is what keep_last counts: the checkpoints one restart chooses among.
using SeriesKey = std::tuple<bool, std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t,
                             std::string, std::int32_t>;

SeriesKey SeriesOf(const CheckpointRow& r) {
  const auto& i = r.info;
  if (i.job_id == kManualJob) {
    return {true, 0, 0, 0, i.uid, i.node, i.pid};  // one process
  }
  return {false, i.job_id, i.step_id, i.task, 0, std::string(), 0};  // one task of a step
}

// Oldest first; id breaks ties so the order is total.
bool Older(const CheckpointRow* a, const CheckpointRow* b) {
  return std::tie(a->info.created_ns, a->id) < std::tie(b->info.created_ns, b->id);
}

struct Planner {
  std::span<const CheckpointRow> rows;
  const RetentionPolicy& policy;
  const ActiveJobs& active;
  std::int64_t now_ns;

  std::unordered_map<std::int64_t, const CheckpointRow*> by_id;
  std::unordered_map<std::int64_t, bool> kept;                  // rows that survive this prune
  std::unordered_map<std::int64_t, std::string> expire_reason;  // what the rules said
  std::unordered_map<std::int64_t, bool> newest_of_active;
  std::unordered_map<std::int64_t, int> kept_children;  // kept rows naming this one as parent
  std::set<std::uint32_t> recently_active_jobs;

  std::int64_t AgeNs(const CheckpointRow& r) const { return now_ns - r.created_ns(); }

  bool MaxAgeExceeded(const CheckpointRow& r) const {
    return policy.max_age.count() > 0 &&
           AgeNs(r) > std::chrono::duration_cast<std::chrono::nanoseconds>(policy.max_age).count();
  }

  bool JobActive(std::uint32_t job) const {
    if (job == kManualJob) {
      return false;
    }
    if (active) {
      return active->contains(job);
    }
    return recently_active_jobs.contains(job);
  }

  void Index() {
    for (const auto& r : rows) {
      by_id[r.id] = &r;
      if (r.info.job_id != kManualJob && !MaxAgeExceeded(r)) {
        recently_active_jobs.insert(r.info.job_id);  // only used without a list of active jobs
      }
    }
  }

  // keep_last and max_age, per series, sparing the newest of an active job.
  void ApplyRules() {
    std::map<SeriesKey, std::vector<const CheckpointRow*>> series;
    for (const auto& r : rows) {
      if (IsGood(r.state)) {
        series[SeriesOf(r)].push_back(&r);
      } else if (r.state == State::kWriting &&
                 AgeNs(r) <=
                     std::chrono::duration_cast<std::chrono::nanoseconds>(policy.writing_timeout)
                         .count()) {
        kept[r.id] = true;  // being written now; may name a parent it needs
      }
    }
    for (auto& [key, list] : series) {
      std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return Older(b, a); });
      for (std::size_t rank = 0; rank < list.size(); ++rank) {
        const CheckpointRow& r = *list[rank];
        std::string why;
        if (policy.keep_last > 0 && rank >= policy.keep_last) {
          why = fmt::format("not among the newest {} of its series (keep_last)", policy.keep_last);
        } else if (MaxAgeExceeded(r)) {
          why = fmt::format("older than max_age {}", util::FormatDuration(policy.max_age));
        }
        newest_of_active[r.id] = rank == 0 && JobActive(r.info.job_id);
        if (!why.empty() && !newest_of_active[r.id]) {
          expire_reason[r.id] = why;
        } else {
          kept[r.id] = true;
        }
      }
    }
  }

  // A set is restored whole or not at all (Catalog::LatestGood). So a whole
  // set one of whose members the rules keep is kept whole, and an active
  // job's newest whole set of each step is kept, whatever keep_last says of
  // its members' series: a task's newer rows may all be in sets another
  // task failed, which no restore can use.
  void KeepSets() {
    std::map<std::int64_t, std::vector<const CheckpointRow*>> sets;
    for (const auto& r : rows) {
      if (r.set_key && IsGood(r.state))
        sets[*r.set_key].push_back(&r);
    }
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> newest_whole;
    auto whole = [](const std::vector<const CheckpointRow*>& members) {
      return members.size() == members.front()->set_size;
    };
    for (const auto& [key, members] : sets) {
      const auto step = std::pair(members.front()->info.job_id, members.front()->info.step_id);
      // A set's key is its first member's id: a newer set has a larger one.
      if (whole(members) && JobActive(step.first) && key > newest_whole[step])
        newest_whole[step] = key;
    }
    for (const auto& [key, members] : sets) {
      const auto step = std::pair(members.front()->info.job_id, members.front()->info.step_id);
      const bool any_kept =
          std::any_of(members.begin(), members.end(), [&](auto* m) { return kept[m->id]; });
      if (!whole(members) || (!any_kept && newest_whole[step] != key))
        continue;
      for (const CheckpointRow* m : members) {
        kept[m->id] = true;
        expire_reason.erase(m->id);
      }
    }
  }

  // A kept row's parent is kept too, and so on up the chain.
  void KeepParents() {
    std::vector<std::int64_t> work;
    for (const auto& [id, k] : kept) {
      work.push_back(id);
    }
    while (!work.empty()) {
      const CheckpointRow* r = by_id.at(work.back());
      work.pop_back();
      if (!r->info.parent_id || !by_id.contains(*r->info.parent_id)) {
        continue;
      }
      std::int64_t parent = *r->info.parent_id;
      ++kept_children[parent];
      if (!kept[parent]) {
        kept[parent] = true;
        work.push_back(parent);
      }
    }
  }

  // Takes a kept good row out for the quota; returns the bytes that frees,
  // counting a parent that stayed only for this child and now goes too.
  std::uint64_t Drop(const CheckpointRow& r, std::string why,
                     std::set<const CheckpointRow*, decltype(&Older)>& removable) {
    kept[r.id] = false;
    expire_reason[r.id] = std::move(why);
    std::uint64_t freed = r.bytes;
    if (!r.info.parent_id || !by_id.contains(*r.info.parent_id)) {
      return freed;
    }
    const CheckpointRow& parent = *by_id.at(*r.info.parent_id);
    if (--kept_children[parent.id] > 0 || !kept[parent.id] || !IsGood(parent.state)) {
      return freed;
    }
    auto rule = expire_reason.find(parent.id);
    if (rule != expire_reason.end()) {
      freed += Drop(parent, rule->second, removable);  // kept only for this child
    } else if (!newest_of_active[parent.id]) {
      removable.insert(&parent);  // now free to go, oldest first like the rest
    }
    return freed;
  }

  // Oldest first, among what the other rules keep, until the user fits.
  void ApplyQuota(PrunePlan& plan) {
    if (policy.user_quota == 0) {
      return;
    }
    std::map<std::uint32_t, std::vector<const CheckpointRow*>> per_user;
    for (const auto& r : rows) {
      if (IsGood(r.state) && kept[r.id]) {
        per_user[r.info.uid].push_back(&r);
      }
    }
    for (auto& [uid, list] : per_user) {
      std::uint64_t total = 0;
      for (auto* r : list) {
        total += r->bytes;
      }
      if (total <= policy.user_quota) {
        continue;
      }
      std::set<const CheckpointRow*, decltype(&Older)> removable(&Older);
      for (auto* r : list) {
        if (!newest_of_active[r->id] && kept_children[r->id] == 0) {
          removable.insert(r);
        }
      }
      const std::string why =
          fmt::format("user over user_quota {} ({} kept)", util::HumanBytes(policy.user_quota),
                      util::HumanBytes(total));
      while (total > policy.user_quota && !removable.empty()) {
        const CheckpointRow* victim = *removable.begin();
        removable.erase(removable.begin());
        if (!kept[victim->id]) {
          continue;
        }
        std::uint64_t freed = Drop(*victim, why, removable);
        total -= std::min(total, freed);
      }
      if (total > policy.user_quota) {
        plan.notes.push_back(fmt::format(
            "user {} stays over user_quota {} by {}: the rest is protected (newest checkpoint of "
            "a running job, or the parent of a kept one)",
            list.front()->info.user, util::HumanBytes(policy.user_quota),
            util::HumanBytes(total - policy.user_quota)));
      }
    }
  }

  PrunePlan Plan() {
    PrunePlan out;
    Index();
    ApplyRules();
    KeepSets();
    KeepParents();
    ApplyQuota(out);

    // Paths that stay in use: never unlink them from under a live row.
    std::set<std::string_view> live_paths;
    for (const auto& r : rows) {
      bool live = IsGood(r.state) || r.state == State::kWriting;
      if (live && kept[r.id]) {
        live_paths.insert(r.info.image_path);
      }
    }
    const auto writing_timeout_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(policy.writing_timeout).count();
    for (const auto& r : rows) {
      PruneAction a;
      if (IsGood(r.state)) {
        if (kept[r.id]) {
          continue;
        }
        a.kind = PruneKind::kExpire;
        a.reason = expire_reason[r.id];
      } else if (r.state == State::kWriting) {
        if (kept[r.id] || AgeNs(r) <= writing_timeout_ns) {
          continue;
        }
        a.kind = PruneKind::kAbandonWriting;
        a.reason = fmt::format("still WRITING after writing_timeout {}: its writer died",
                               util::FormatDuration(policy.writing_timeout));
      } else if (r.state == State::kFailed || r.state == State::kCorrupt ||
                 r.state == State::kExpired) {
        if (kept[r.id]) {
          continue;  // the parent of a kept row, however damaged
        }
        a.kind = PruneKind::kClean;
        a.reason = r.state_reason.empty()
                       ? fmt::format("{}", ToString(r.state))
                       : fmt::format("{}: {}", ToString(r.state), r.state_reason);
      } else {
        continue;
      }
      a.id = r.id;
      a.from = r.state;
      a.uid = r.info.uid;
      a.image_path = r.info.image_path;
      a.bytes = r.bytes;
      a.unlink_image = !live_paths.contains(r.info.image_path);
      out.actions.push_back(std::move(a));
    }
    return out;
  }
};

}  // namespace

PrunePlan PlanRetention(std::span<const CheckpointRow> rows, const RetentionPolicy& policy,
                        const ActiveJobs& active, std::int64_t now_ns) {
  Planner p{rows, policy, active, now_ns, {}, {}, {}, {}, {}, {}};
  return p.Plan();
}

std::string_view ToString(PruneKind kind) {
  switch (kind) {
    case PruneKind::kExpire:
      return "expire";
    case PruneKind::kAbandonWriting:
      return "abandon";
    case PruneKind::kClean:
      return "clean";
  }
  return "?";
}

}  // namespace kcr::catalog
