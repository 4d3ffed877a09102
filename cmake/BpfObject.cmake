# SPDX-License-Identifier: Apache-2.0
#
# bpf_object(<name> <source.bpf.c> [INCLUDES <dirs>...])
#
# Compiles a BPF C file with clang (-target bpf -g -O2) and turns the object into a libbpf skeleton with
# `bpftool gen skeleton`, both in the build directory. Produces an INTERFACE library `<name>_skel` whose
# include path holds `<name>.skel.h`; linking it is the only way user space reaches the programs and maps
# (the skeleton embeds the object: nothing ships a .o file). After libbpf-bootstrap's FindBpfObject.cmake.

find_program(PODID_CLANG_EXE NAMES clang-14 clang REQUIRED)
find_program(PODID_BPFTOOL_EXE NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(PODID_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(PODID_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "bpf_object: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# Debian keeps <asm/types.h> under the multiarch directory, which clang -target bpf does not search.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch OUTPUT_VARIABLE PODID_MULTIARCH
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)

function(bpf_object name source)
  cmake_parse_arguments(B "" "" "INCLUDES;DEPENDS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${name})
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${source})
  set(include_flags)
  foreach(dir IN LISTS B_INCLUDES)
    list(APPEND include_flags -I${dir})
  endforeach()
  if(PODID_MULTIARCH)
    list(APPEND include_flags -idirafter /usr/include/${PODID_MULTIARCH})
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${PODID_CLANG_EXE} -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_${PODID_BPF_ARCH}
            ${include_flags} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPFILE ${obj}.d
    DEPENDS ${src} ${B_DEPENDS}
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${PODID_BPFTOOL_EXE} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
