// Image records: what a committed checkpoint says about itself, in a small
// JSON file beside its image ("<image>.json"), so that whoever can read the
// image directory (the agent of any node the job is requeued onto, as the
// job's user) finds the job's checkpoints there without the catalog that
// recorded them (docs/catalog.md, "Requeue onto another node").
//
// A record is written once the checkpoint is safe: for a step's set of
// tasks, once every member is (each member's record names them all), so a
// set is whole only when every member's record and image are there. The
// image's size in the record tells a whole image from a truncated one
// without reading it (the header checksum is kept for reports); the restore
// itself checks every byte before the program is touched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <kcr/status.h>
#include "kcr/catalog/records.h"

namespace kcr::catalog {

// The record file of the image at image_path.
std::string ImageRecordPath(const std::string& image_path);

// Writes the record of row's committed image (a temporary file, synced and
// renamed, as the caller's file-system identity); set_members are the
// image paths of its set, itself included (one for a task alone).
Status WriteImageRecord(const CheckpointRow& row, const std::vector<std::string>& set_members);

// The good checkpoints of one task of uid's job that records in dir
// describe, newest first: committed, its image whole, and every member of
// its set recorded and whole. Records and images count only as uid's own
// regular files (tree images: directories), writable by no one else, never
// through a symlink: whoever else could write into the directory cannot
// offer uid a program to restore. Rows have id 0 (not the catalog's). A
// record that cannot be read or parsed is skipped; a directory that does not
// exist holds none.
Status ReadImageRecords(const std::string& dir, std::uint32_t job_id, std::uint32_t step_id,
                        std::uint32_t task, std::uint32_t uid, std::vector<CheckpointRow>* rows);

// The record's own format, for tests and tools.
std::string FormatImageRecord(const CheckpointRow& row, const std::vector<std::string>& members);
bool ParseImageRecord(const std::string& text, CheckpointRow* row,
                      std::vector<std::string>* members);

}  // namespace kcr::catalog
