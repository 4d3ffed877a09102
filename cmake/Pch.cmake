# SPDX-License-Identifier: Apache-2.0
# Boost.Asio/Beast and nlohmann/json headers cost most of each C++ translation unit's compile time (about 10 s
# of 18 s for a typical agent file on the CI machines). They are compiled once, into the precompiled header of
# podid_pch, which every C++ target of the project reuses: podid_use_pch_everywhere() at the end of the top
# CMakeLists.txt. PODID_PCH=OFF turns it off (e.g. to check that every file includes what it uses).
option(PODID_PCH "Share one precompiled header of the heavy third-party headers" ON)

set(PODID_PCH_HEADERS
  <boost/asio.hpp>
  <boost/beast/core.hpp>
  <boost/beast/http.hpp>
  <nlohmann/json.hpp>
  <chrono> <functional> <map> <memory> <optional> <string> <string_view> <unordered_map> <variant> <vector>)

if(PODID_PCH)
  add_library(podid_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
  target_link_libraries(podid_pch PRIVATE Boost::boost nlohmann_json::nlohmann_json)
  target_precompile_headers(podid_pch PRIVATE ${PODID_PCH_HEADERS})
endif()

# Every target in `dir` and below.
function(_podid_targets_below dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _podid_targets_below(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(podid_use_pch_everywhere)
  if(NOT PODID_PCH)
    return()
  endif()
  _podid_targets_below(${PROJECT_SOURCE_DIR} targets)
  foreach(t IN LISTS targets)
    if(t STREQUAL podid_pch)
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${t} SOURCES)
    set(has_cxx FALSE)
    foreach(s IN LISTS sources)
      if(s MATCHES "\\.cpp$")
        set(has_cxx TRUE)
      endif()
    endforeach()
    if(has_cxx)
      target_precompile_headers(${t} REUSE_FROM podid_pch)
    endif()
  endforeach()
endfunction()
