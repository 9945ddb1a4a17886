# Optional parts (adapters, store backends) follow one rule: a switch AUTO|ON|OFF.
#   ON   the dependency is required; configuring fails without it
#   AUTO built when the dependency is found (the default)
#   OFF  not built
# hookrx_feature(NAME DOC) declares HOOKRX_<NAME>; hookrx_feature_found(NAME FOUND) records the
# decision and fails for ON-but-missing. The summary at the end of configure says what was built.

function(hookrx_feature name doc)
  set(HOOKRX_${name} AUTO CACHE STRING "${doc} (AUTO|ON|OFF)")
  set_property(CACHE HOOKRX_${name} PROPERTY STRINGS AUTO ON OFF)
endfunction()

# Sets HOOKRX_BUILD_<NAME> in the caller's scope.
function(hookrx_feature_found name found)
  set(mode "${HOOKRX_${name}}")
  if(mode STREQUAL "OFF")
    set(build OFF)
  elseif(found)
    set(build ON)
  elseif(mode STREQUAL "ON")
    message(FATAL_ERROR "HOOKRX_${name}=ON but its dependency was not found")
  else()
    set(build OFF)
  endif()
  set(HOOKRX_BUILD_${name} ${build} PARENT_SCOPE)
  set_property(GLOBAL APPEND PROPERTY HOOKRX_FEATURES "${name}=${build}")
endfunction()

function(hookrx_print_summary)
  get_property(features GLOBAL PROPERTY HOOKRX_FEATURES)
  set(built "")
  set(skipped "")
  foreach(f IN LISTS features)
    string(REPLACE "=" ";" pair "${f}")
    list(GET pair 0 n)
    list(GET pair 1 b)
    if(b)
      list(APPEND built ${n})
    else()
      list(APPEND skipped ${n})
    endif()
  endforeach()
  message(STATUS "hookrx ${PROJECT_VERSION}: core built; optional parts built: ${built}; not built: ${skipped}")
endfunction()
