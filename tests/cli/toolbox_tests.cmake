# Unit tests of the toolbox's building blocks (no server, no binary).
find_package(doctest REQUIRED)
include(doctest)
add_executable(hookrx_toolbox_tests
  ${PROJECT_SOURCE_DIR}/tests/main.cpp
  ${PROJECT_SOURCE_DIR}/tests/support.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_event_builder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_signing.cpp)
target_compile_definitions(hookrx_toolbox_tests PRIVATE HOOKRX_SHARED_DIR="${HOOKRX_SHARED_DIR}")
target_include_directories(hookrx_toolbox_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(hookrx_toolbox_tests PRIVATE hookrx_toolbox doctest::doctest simdjson::simdjson OpenSSL::Crypto hookrx_warnings)
doctest_discover_tests(hookrx_toolbox_tests)
