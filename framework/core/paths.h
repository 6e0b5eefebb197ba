// Where things live: the repository (configs, fixtures), datasets (searched in a fixed order), the
// tokenized-array cache, and run directories (whose names must not escape the runs directory).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace oasis {

// $OASIS_ROOT, else the source directory this binary was built from.
std::filesystem::path repo_root();

// Candidate dataset roots in lookup order: `configured` when non-empty; else $OASIS_DATA_DIR,
// <repo>/data/cache, <repo>/../shared/data.
std::vector<std::filesystem::path> data_roots(const std::string& configured);

// The first root holding `folder`; otherwise a RuntimeError that lists every place looked and how to get
// the data (`make data`).
std::filesystem::path find_dataset_dir(const std::string& configured, const std::string& folder,
                                       const std::string& dataset);

// A path from a config (data.hf.path, model.init_from): as written when absolute or when it exists from the
// working directory, else under the repository root, so a config naming runs/... works from any directory.
std::filesystem::path resolve_config_path(const std::string& configured);

// `configured` when non-empty, else $OASIS_CACHE_DIR, else <repo>/.cache; created on demand.
std::filesystem::path cache_dir(const std::string& configured);

// Writes `content` to `path` atomically: a temporary file in the same directory, flushed, then renamed.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

}  // namespace oasis
