// tree.json, the index of a tree image (docs/image-format.md): the tree's
// processes in the order a restore creates them (parents first, depth
// first), and its pipes. Read defensively: a tree image is input.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <kcr/status.h>

namespace kcr {

inline constexpr char kTreeManifest[] = "tree.json";
inline constexpr int kTreeFormat = 1;
// More processes than this in one tree are refused (checkpoint and restore).
inline constexpr size_t kMaxTreeProcesses = 1024;

struct TreeProcess {
  pid_t pid = 0;    // in the tree's pid namespace
  int parent = -1;  // index of its parent in TreeManifest::processes; -1 for the root
  pid_t pgid = 0;   // 0: a group led from outside the tree
  pid_t sid = 0;
  bool zombie = false;
  int wait_status = 0;  // a zombie's, as waitpid() will report it
  std::string image;    // a live process's image, relative to the tree image
};

struct TreePipe {
  uint64_t ino = 0;       // the pipe's, at the checkpoint: how members' fds name it
  uint32_t capacity = 0;  // F_GETPIPE_SZ
  std::string data;       // file with the unread bytes, relative to the tree image
  uint64_t bytes = 0;
  uint64_t checksum = 0;  // xxh64 of the bytes, seed 0
};

// Anonymous memory (MAP_SHARED|MAP_ANONYMOUS) that processes of the tree
// share, at the same addresses in each: mapped and filled once, from the
// image of the process saved last (when no process could write it any
// more), before the tree is forked, so that each inherits it.
struct TreeSharedMemory {
  uint64_t start = 0, end = 0;
  std::vector<int> processes;  // indexes into TreeManifest::processes
  int from = -1;               // whose image holds the contents
};

struct TreeManifest {
  std::vector<TreeProcess> processes;  // processes[0] is the root
  std::vector<TreePipe> pipes;
  std::vector<TreeSharedMemory> shared_memory;
};

// A small regular file of a tree image, read whole: never a FIFO or a
// device put there to hang the reader, nor more than max_bytes.
Status ReadTreeFile(const std::string& path, uint64_t max_bytes, std::string* out);

Status WriteTreeManifest(const std::string& dir, const TreeManifest& m);
Status ReadTreeManifest(const std::string& dir, TreeManifest* m);

}  // namespace kcr
