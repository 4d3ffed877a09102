# SPDX-License-Identifier: Apache-2.0
# Compiler warnings. The build is warning-free with -Wall -Wextra on g++ 12 (Debian 12, the CI machines), and CI
# keeps it so: .ci/run sets PODID_WERROR=ON, which scripts/build passes here. Off by default, so that a newer
# compiler's new warnings never break a user's build.
option(PODID_WERROR "Treat compiler warnings as errors (-Werror); CI turns it on" OFF)

add_compile_options(-Wall -Wextra -Wno-missing-field-initializers)
if(PODID_WERROR)
  add_compile_options(-Werror)
endif()

# Known GCC false positives, silenced per target, after every target exists (the end of the top CMakeLists.txt).
# A false positive in test code only is silenced next to that test's target instead.
function(podid_silence_gcc_false_positives)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()
  # -Wmismatched-new-delete on Boost.Asio coroutine frames (GCC bug 109224): a frame is allocated by
  # awaitable_frame_base::operator new (Asio's recycling allocator, aligned_alloc underneath) and freed by its
  # sized operator delete (free underneath), a matching pair GCC cannot see through once it inlines both. Which
  # coroutines it reports depends on inlining; these are the targets holding the ones g++ 12 reports.
  foreach(t podid_azure podid_agent_serve podid_controller_arm_http podid_controller_leader podid_cli_lib
      bench-pod-load)
    if(TARGET ${t})
      target_compile_options(${t} PRIVATE -Wno-mismatched-new-delete)
    endif()
  endforeach()
endfunction()
