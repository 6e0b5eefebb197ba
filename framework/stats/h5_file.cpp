#include "framework/stats/h5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/file_digest.h"

namespace oasis {

namespace {

// Closes an HDF5 handle with the matching H5*close when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

hid_t checked(hid_t id, const std::string& file, const std::string& what) {
  if (id < 0) throw RuntimeError(fmt::format("{}: HDF5 failed to {}", file, what));
  return id;
}

void checked_status(herr_t status, const std::string& file, const std::string& what) {
  if (status < 0) throw RuntimeError(fmt::format("{}: HDF5 failed to {}", file, what));
}

// IEEE 754 binary16 (HDF5 1.10 has no predefined half type; h5py reads this layout as float16).
hid_t half_type() {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  H5Tset_precision(t, 16);
  return t;
}

hid_t string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

std::vector<hsize_t> dims_of(const std::vector<int64_t>& shape) { return {shape.begin(), shape.end()}; }

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

}  // namespace

// ---- writer ----

H5Writer::H5Writer(const std::filesystem::path& file) : name_(file.string()) {
  silence_hdf5();
  file_ = checked(H5Fcreate(name_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), name_, "create the file");
}

H5Writer::~H5Writer() {
  if (file_ >= 0) H5Fclose(file_);
}

void H5Writer::close() {
  checked_status(H5Fflush(file_, H5F_SCOPE_GLOBAL), name_, "flush");
  checked_status(H5Fclose(file_), name_, "close");
  file_ = -1;
}

void H5Writer::group(const std::string& path) {
  if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0) return;
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle g(checked(H5Gcreate2(file_, path.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT), name_,
                   "create group " + path),
           H5Gclose);
}

namespace {
hid_t create_dataset(hid_t file, const std::string& name, const std::string& path, hid_t type,
                     const std::vector<int64_t>& shape, std::vector<int64_t> chunk) {
  const auto dims = dims_of(shape);
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  const int64_t n = product(shape);
  if (chunk.empty() && n >= 4096 && !shape.empty()) {  // small arrays stay contiguous
    chunk = shape;
    chunk[0] = 1;
    if (product(chunk) < 1024) chunk[0] = std::min<int64_t>(shape[0], (1024 + product(chunk) - 1) / product(chunk));
  }
  if (!chunk.empty() && n > 0) {
    const auto c = dims_of(chunk);
    H5Pset_chunk(props.get(), int(c.size()), c.data());
    H5Pset_shuffle(props.get());
    H5Pset_deflate(props.get(), 4);
  }
  return checked(H5Dcreate2(file, path.c_str(), type, space.get(), links.get(), props.get(), H5P_DEFAULT), name,
                 "create dataset " + path);
}
}  // namespace

void H5Writer::write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<double>& values,
                     H5Stored stored, std::vector<int64_t> chunk) {
  if (int64_t(values.size()) != product(shape))
    throw RuntimeError(fmt::format("{}: {} has {} values for its shape", name_, path, values.size()));
  Handle type(stored == H5Stored::f16 ? half_type() : H5Tcopy(stored == H5Stored::f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE),
              H5Tclose);
  Handle d(create_dataset(file_, name_, path, type.get(), shape, std::move(chunk)), H5Dclose);
  checked_status(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), name_,
                 "write " + path);
}

void H5Writer::write_half(const std::string& path, const std::vector<int64_t>& shape, const uint16_t* bits,
                          std::vector<int64_t> chunk) {
  Handle type(half_type(), H5Tclose);
  Handle d(create_dataset(file_, name_, path, type.get(), shape, std::move(chunk)), H5Dclose);
  checked_status(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits), name_, "write " + path);
}

void H5Writer::write_string(const std::string& path, const std::string& text) {
  Handle type(string_type(), H5Tclose);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  Handle d(checked(H5Dcreate2(file_, path.c_str(), type.get(), space.get(), links.get(), H5P_DEFAULT, H5P_DEFAULT),
                   name_, "create dataset " + path),
           H5Dclose);
  const char* data = text.c_str();
  checked_status(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data), name_, "write " + path);
}

namespace {
void write_attribute(hid_t file, const std::string& name, const std::string& object, const std::string& key,
                     hid_t type, const void* value) {
  Handle obj(checked(H5Oopen(file, object.c_str(), H5P_DEFAULT), name, "open " + object), H5Oclose);
  if (H5Aexists(obj.get(), key.c_str()) > 0) H5Adelete(obj.get(), key.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(checked(H5Acreate2(obj.get(), key.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), name,
                   "create attribute " + object + "@" + key),
           H5Aclose);
  checked_status(H5Awrite(a.get(), type, value), name, "write attribute " + object + "@" + key);
}
}  // namespace

void H5Writer::attribute(const std::string& object, const std::string& key, double value) {
  write_attribute(file_, name_, object, key, H5T_NATIVE_DOUBLE, &value);
}

void H5Writer::attribute(const std::string& object, const std::string& key, int64_t value) {
  write_attribute(file_, name_, object, key, H5T_NATIVE_INT64, &value);
}

void H5Writer::attribute(const std::string& object, const std::string& key, const std::string& value) {
  Handle type(string_type(), H5Tclose);
  const char* data = value.c_str();
  write_attribute(file_, name_, object, key, type.get(), &data);
}

// ---- reader ----

H5Reader::H5Reader(const std::filesystem::path& file) : name_(file.string()) {
  silence_hdf5();
  if (!std::filesystem::exists(file)) throw RuntimeError(fmt::format("{}: no such file", name_));
  // libhdf5 trusts the bytes it parses (a flipped bit can crash it), so the file is checked first.
  if (const auto problem = sidecar_mismatch(file)) throw RuntimeError(*problem);
  file_ = H5Fopen(name_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0)
    throw RuntimeError(fmt::format("{}: not a readable HDF5 file (truncated or corrupt?)", name_));
}

H5Reader::~H5Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool H5Reader::exists(const std::string& path) const {
  if (path == "/" || path.empty()) return true;
  // Every prefix must exist for H5Lexists to answer rather than fail.
  size_t at = 0;
  while ((at = path.find('/', at + 1)) != std::string::npos)
    if (H5Lexists(file_, path.substr(0, at).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0;
}

bool H5Reader::is_group(const std::string& path) const {
  H5O_info_t info;
  if (H5Oget_info_by_name(file_, path.c_str(), &info, H5P_DEFAULT) < 0)
    throw RuntimeError(fmt::format("{}: no object {}", name_, path));
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> H5Reader::children(const std::string& group) const {
  Handle g(checked(H5Gopen2(file_, group.c_str(), H5P_DEFAULT), name_, "open group " + group), H5Gclose);
  H5G_info_t info;
  checked_status(H5Gget_info(g.get(), &info), name_, "list " + group);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(size_t(std::max<ssize_t>(n, 0)), '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> H5Reader::datasets() const {
  std::vector<std::string> out;
  auto visit = [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
    if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
    return 0;
  };
  checked_status(H5Ovisit(file_, H5_INDEX_NAME, H5_ITER_INC, visit, &out), name_, "walk the file");
  std::sort(out.begin(), out.end());
  return out;
}

H5Array H5Reader::read(const std::string& path) const {
  Handle d(checked(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), name_, "open dataset " + path), H5Dclose);
  Handle space(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  H5Array out;
  for (auto x : dims) out.shape.push_back(int64_t(x));
  out.values.resize(size_t(product(out.shape)));
  checked_status(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()), name_,
                 "read " + path + " (corrupt or not numeric)");
  return out;
}

std::string H5Reader::read_string(const std::string& path) const {
  Handle d(checked(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), name_, "open dataset " + path), H5Dclose);
  Handle type(string_type(), H5Tclose);
  char* data = nullptr;
  checked_status(H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data), name_, "read " + path);
  std::string text = data ? data : "";
  H5free_memory(data);
  return text;
}

std::vector<std::string> H5Reader::attribute_names(const std::string& object) const {
  Handle obj(checked(H5Oopen(file_, object.c_str(), H5P_DEFAULT), name_, "open " + object), H5Oclose);
  H5O_info_t info;
  checked_status(H5Oget_info(obj.get(), &info), name_, "inspect " + object);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Handle a(H5Aopen_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const ssize_t n = H5Aget_name(a.get(), 0, nullptr);
    std::string name(size_t(std::max<ssize_t>(n, 0)), '\0');
    H5Aget_name(a.get(), name.size() + 1, name.data());
    names.push_back(name);
  }
  return names;
}

std::optional<double> H5Reader::number_attribute(const std::string& object, const std::string& key) const {
  Handle obj(checked(H5Oopen(file_, object.c_str(), H5P_DEFAULT), name_, "open " + object), H5Oclose);
  if (H5Aexists(obj.get(), key.c_str()) <= 0) return std::nullopt;
  Handle a(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT && H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  double value = 0;
  checked_status(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &value), name_, "read attribute " + object + "@" + key);
  return value;
}

std::optional<std::string> H5Reader::string_attribute(const std::string& object, const std::string& key) const {
  Handle obj(checked(H5Oopen(file_, object.c_str(), H5P_DEFAULT), name_, "open " + object), H5Oclose);
  if (H5Aexists(obj.get(), key.c_str()) <= 0) return std::nullopt;
  Handle a(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  Handle stored(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(stored.get()) != H5T_STRING) return std::nullopt;
  Handle type(string_type(), H5Tclose);
  char* data = nullptr;
  checked_status(H5Aread(a.get(), type.get(), &data), name_, "read attribute " + object + "@" + key);
  std::string text = data ? data : "";
  H5free_memory(data);
  return text;
}

}  // namespace oasis
