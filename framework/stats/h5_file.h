// A small layer over the HDF5 C API with exactly what stats.h5 needs: writing groups (created on the
// way), numeric and string datasets (large ones chunked, shuffled and deflated), attributes; reading any
// numeric dataset as double, strings, attributes, and walking the tree. HDF5's own error printing is
// switched off; every failure is a RuntimeError naming the file and the object.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace oasis {

struct H5Array {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

enum class H5Stored { f64, f32, f16 };

class H5Writer {
 public:
  explicit H5Writer(const std::filesystem::path& file);  // creates or truncates
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // `values` in row-major order; stored as `stored` (f16 for attention maps). `chunk` (same rank as
  // shape) turns on chunking + shuffle + deflate; empty = contiguous for small arrays, automatic chunks
  // (one row of the leading axis) otherwise.
  void write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<double>& values,
             H5Stored stored = H5Stored::f64, std::vector<int64_t> chunk = {});
  // Raw IEEE half-precision bits (what at::kHalf tensors hold), stored as f16.
  void write_half(const std::string& path, const std::vector<int64_t>& shape, const uint16_t* bits,
                  std::vector<int64_t> chunk);
  void write_string(const std::string& path, const std::string& text);  // scalar UTF-8 string dataset
  void attribute(const std::string& object, const std::string& name, double value);
  void attribute(const std::string& object, const std::string& name, int64_t value);
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void group(const std::string& path);
  void close();  // flushes; further calls fail

 private:
  int64_t file_ = -1;
  std::string name_;
};

class H5Reader {
 public:
  explicit H5Reader(const std::filesystem::path& file);  // read-only; throws when HDF5 cannot open it
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  std::vector<std::string> children(const std::string& group) const;  // names, sorted
  std::vector<std::string> datasets() const;                           // every dataset's full path
  H5Array read(const std::string& path) const;                         // any numeric dataset, as double
  std::string read_string(const std::string& path) const;
  std::vector<std::string> attribute_names(const std::string& object) const;
  std::optional<double> number_attribute(const std::string& object, const std::string& name) const;
  std::optional<std::string> string_attribute(const std::string& object, const std::string& name) const;
  const std::string& file_name() const { return name_; }

 private:
  int64_t file_ = -1;
  std::string name_;
};

}  // namespace oasis
