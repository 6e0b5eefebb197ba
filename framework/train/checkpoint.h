// Full training state on disk: weights, optimizer moments, LibTorch's RNG, the data position and the
// step. A checkpoint is written into a temporary folder, renamed to checkpoints/step_XXXXXXXX and only
// then marked with a DONE file; readers take the newest folder that has DONE, so a kill at any moment
// leaves either the previous checkpoint or the new one, never a half-written one. state.json records each
// file's size and SHA-256; a checkpoint whose files no longer match (a damaged disk, a truncated copy) is
// skipped with a warning in favour of the newest older one that is whole.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace oasis {

struct TrainState {
  int64_t step = 0;              // completed optimizer steps
  int64_t samples_consumed = 0;  // training windows read (the data position)
  int64_t tokens_seen = 0;
  double elapsed_s = 0;          // training wall time so far
  double last_loss = NAN;        // training loss of the last step
  double last_val_loss = NAN;    // the last periodic validation loss
};

std::filesystem::path checkpoint_dir(const std::filesystem::path& run_dir, int64_t step);

void save_checkpoint(const std::filesystem::path& run_dir, const TrainState& state, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer, int64_t keep);

// The newest complete checkpoint whose files are whole, if any; newer damaged ones are named on stdout.
// Hashes the files: for loading, not for progress displays.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

// The newest folder marked DONE, unverified: how far a run got (the runner's status column), read without
// hashing every cell's checkpoint at start-up.
std::optional<std::filesystem::path> newest_complete_checkpoint(const std::filesystem::path& run_dir);

// Why the checkpoint in `dir` cannot be trusted (a missing file, a size or SHA-256 that differs from
// state.json's record), or nullopt when it is whole. Checkpoints written before the record are trusted.
std::optional<std::string> checkpoint_damage(const std::filesystem::path& dir);

// Restores model (and optimizer and RNG when given) from `dir`; returns the saved state. Every tensor's
// name, shape and dtype is compared with the model first; the first mismatch is an error naming it.
TrainState load_checkpoint(const std::filesystem::path& dir, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer);

}  // namespace oasis
