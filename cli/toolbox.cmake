# The toolbox subcommands of `hookrx` (send, sign, inbox, check, submit, watch; toolbox.hpp).
# Their building blocks are one static library, so that unit tests link them without the binary;
# the commands themselves are compiled into hookrx_cli. Included from cli/CMakeLists.txt.
set(toolbox_dir ${CMAKE_CURRENT_LIST_DIR})

add_library(hookrx_toolbox STATIC
  ${toolbox_dir}/event_builder.cpp
  ${toolbox_dir}/signing.cpp)
target_compile_features(hookrx_toolbox PUBLIC cxx_std_17)
target_include_directories(hookrx_toolbox PUBLIC ${toolbox_dir}
  PRIVATE ${PROJECT_SOURCE_DIR}/src)  # the wire_*.hpp files: one list of event names and topics
target_link_libraries(hookrx_toolbox PUBLIC hookrx::hookrx PRIVATE OpenSSL::Crypto $<BUILD_INTERFACE:hookrx_warnings>)

# `send` posts with cpp-httplib, linked only through pkg-config (its Cflags fix the ABI: STYLE.md).
find_package(PkgConfig REQUIRED)
pkg_check_modules(HOOKRX_PC_HTTPLIB_CLI REQUIRED IMPORTED_TARGET cpp-httplib)

target_sources(hookrx_cli PRIVATE
  ${toolbox_dir}/toolbox.cpp
  ${toolbox_dir}/cmd_send.cpp
  ${toolbox_dir}/cmd_sign.cpp
  ${toolbox_dir}/cmd_inbox.cpp
  ${toolbox_dir}/toolbox_store.cpp
  ${toolbox_dir}/cmd_check.cpp
  ${toolbox_dir}/cmd_submit.cpp
  ${toolbox_dir}/toolbox_api.cpp)
target_link_libraries(hookrx_cli PRIVATE hookrx_toolbox hookrx::api PkgConfig::HOOKRX_PC_HTTPLIB_CLI)
if(TARGET hookrx::postgres)
  target_link_libraries(hookrx_cli PRIVATE hookrx::postgres)
  target_compile_definitions(hookrx_cli PRIVATE HOOKRX_CLI_HAVE_POSTGRES=1)
endif()

if(HOOKRX_INSTALL)
  include(${toolbox_dir}/packaging.cmake)
endif()

if(HOOKRX_TESTS)
  include(${PROJECT_SOURCE_DIR}/tests/cli/toolbox_tests.cmake)
endif()
