# LibTorch from the torch wheel in the project's Python environment (requirements.txt pins it; `make venv`
# installs it). Defines the target `torch`, OASIS_TORCH_VERSION, OASIS_TORCH_LIB_DIR and OASIS_WITH_CUDA.
#
# With nvcc on the machine (or CMAKE_CUDA_COMPILER set) the build takes LibTorch's own CMake package, which
# compiles every translation unit with the CUDA headers and links libtorch_cuda, so a CUDA-only compile error
# fails here even with no GPU. Without nvcc that package refuses to configure (the wheel is a CUDA build), so
# the build links the wheel's CPU libraries directly and says it is CPU-only. OASIS_CUDA=OFF forces that.

set(OASIS_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "the Python whose torch wheel supplies LibTorch")
option(OASIS_CUDA "compile CUDA in when nvcc is found" ON)
option(OASIS_REQUIRE_PINNED_TORCH "refuse a torch other than the one requirements.txt pins" ON)

file(STRINGS "${CMAKE_SOURCE_DIR}/requirements.txt" _pin REGEX "^torch==")
string(REGEX REPLACE "^torch==" "" OASIS_PINNED_TORCH "${_pin}")

if(NOT EXISTS "${OASIS_PYTHON}")
  message(FATAL_ERROR "LibTorch: no Python environment at ${OASIS_PYTHON} (expected torch ${OASIS_PINNED_TORCH}); "
                      "run `make venv`, or pass -DOASIS_PYTHON=/path/to/python with torch installed")
endif()
execute_process(
  COMMAND "${OASIS_PYTHON}" -c "import torch; print(torch.__version__.split('+')[0]); print(torch.utils.cmake_prefix_path); print(torch.version.cuda or '')"
  OUTPUT_VARIABLE _torch_info ERROR_VARIABLE _torch_error RESULT_VARIABLE _torch_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_rc EQUAL 0)
  string(STRIP "${_torch_error}" _torch_error)
  string(REGEX REPLACE ".*\n" "" _last_line "${_torch_error}")
  message(FATAL_ERROR "LibTorch: ${OASIS_PYTHON} cannot import torch (${_last_line}); run `make venv` "
                      "(it installs torch ${OASIS_PINNED_TORCH})")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 OASIS_TORCH_VERSION)
list(GET _torch_info 1 _torch_cmake_prefix)
list(LENGTH _torch_info _n)
set(_wheel_cuda "")
if(_n GREATER 2)
  list(GET _torch_info 2 _wheel_cuda)
endif()
if(OASIS_REQUIRE_PINNED_TORCH AND NOT OASIS_TORCH_VERSION STREQUAL OASIS_PINNED_TORCH)
  message(FATAL_ERROR "LibTorch: found torch ${OASIS_TORCH_VERSION} in ${OASIS_PYTHON}, expected "
                      "${OASIS_PINNED_TORCH} (requirements.txt); run `make venv`, or configure with "
                      "-DOASIS_REQUIRE_PINNED_TORCH=OFF to build against it untested")
endif()
get_filename_component(OASIS_TORCH_LIB_DIR "${_torch_cmake_prefix}/../../lib" ABSOLUTE)

set(OASIS_WITH_CUDA OFF)
if(OASIS_CUDA AND _wheel_cuda)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(OASIS_WITH_CUDA ON)
  endif()
endif()

if(OASIS_WITH_CUDA)
  # CMake 3.25 knows no CUDA 20 flags for nvcc 13; we compile no .cu files, so 17 is all the checks need.
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  # LibTorch's package chooses the architectures from TORCH_CUDA_ARCH_LIST (it ignores
  # CMAKE_CUDA_ARCHITECTURES); unset, it would run a program on the absent GPU to find them. 9.0: H100/H200.
  set(TORCH_CUDA_ARCH_LIST "9.0" CACHE STRING "CUDA architectures for LibTorch's package")
  set(CMAKE_CUDA_ARCHITECTURES OFF)
  enable_language(CUDA)
  string(REGEX MATCH "^[0-9]+" _nvcc_major "${CMAKE_CUDA_COMPILER_VERSION}")
  string(REGEX MATCH "^[0-9]+" _wheel_major "${_wheel_cuda}")
  if(NOT _nvcc_major STREQUAL _wheel_major)
    message(FATAL_ERROR "LibTorch: torch ${OASIS_TORCH_VERSION} is built for CUDA ${_wheel_cuda} but nvcc is "
                        "${CMAKE_CUDA_COMPILER_VERSION} (${CMAKE_CUDA_COMPILER}); install a CUDA ${_wheel_major} "
                        "toolkit or configure with -DOASIS_CUDA=OFF for a CPU-only build")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${_torch_cmake_prefix}")
  find_package(Torch REQUIRED)
  message(STATUS "LibTorch ${OASIS_TORCH_VERSION} from ${OASIS_TORCH_LIB_DIR}; CUDA: yes (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                 "wheel CUDA ${_wheel_cuda}, architectures ${TORCH_CUDA_ARCH_LIST})")
else()
  add_library(torch INTERFACE IMPORTED)
  set_target_properties(torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OASIS_TORCH_LIB_DIR}/../include;${OASIS_TORCH_LIB_DIR}/../include/torch/csrc/api/include"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1"
    INTERFACE_LINK_LIBRARIES "${OASIS_TORCH_LIB_DIR}/libtorch.so;${OASIS_TORCH_LIB_DIR}/libtorch_cpu.so;${OASIS_TORCH_LIB_DIR}/libc10.so")
  if(NOT OASIS_CUDA)
    set(_why "OASIS_CUDA=OFF")
  elseif(NOT _wheel_cuda)
    set(_why "the torch wheel is a CPU build")
  else()
    set(_why "no nvcc found")
  endif()
  message(STATUS "LibTorch ${OASIS_TORCH_VERSION} from ${OASIS_TORCH_LIB_DIR}; CUDA: no (${_why}): CPU-only build")
endif()

# The wheel carries its own OpenMP runtime (lib/libgomp.so.1), which LibTorch's thread pool runs on. Our
# kernels are compiled with -fopenmp and must call into that same runtime: a second libgomp would give them
# a second thread pool that torch::set_num_threads never reaches.
find_library(OASIS_TORCH_GOMP NAMES gomp libgomp.so.1 PATHS "${OASIS_TORCH_LIB_DIR}" NO_DEFAULT_PATH REQUIRED)
add_library(oasis_openmp INTERFACE)
target_compile_options(oasis_openmp INTERFACE -fopenmp)
target_link_libraries(oasis_openmp INTERFACE "${OASIS_TORCH_GOMP}")

# libtorch.so exports about 180 symbols of the C++ standard library that the wheel's toolchain linked in
# statically (std::filesystem among them). The loader looks a symbol up in the order of the NEEDED
# entries, so our calls bound to those copies, and std::filesystem::remove_all jumped to address 0. With
# libstdc++ as the first NEEDED entry of every binary, each std:: call binds to the system's libstdc++.
add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
