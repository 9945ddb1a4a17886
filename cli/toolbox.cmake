# The toolbox subcommands of `hookrx` (send, sign, inbox, check, submit, watch): their building
# blocks are one static library, so that unit tests link them without the binary.
#
# Included from the project's top level after the stores and adapters.
add_library(hookrx_toolbox STATIC
  ${CMAKE_CURRENT_LIST_DIR}/event_builder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/signing.cpp)
target_compile_features(hookrx_toolbox PUBLIC cxx_std_17)
target_include_directories(hookrx_toolbox PUBLIC ${CMAKE_CURRENT_LIST_DIR}
  PRIVATE ${PROJECT_SOURCE_DIR}/src)  # the wire_*.hpp files: one list of event names and topics
target_link_libraries(hookrx_toolbox PUBLIC hookrx::hookrx PRIVATE OpenSSL::Crypto hookrx_warnings)

if(HOOKRX_TESTS)
  include(${PROJECT_SOURCE_DIR}/tests/cli/toolbox_tests.cmake)
endif()
