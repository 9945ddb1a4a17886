# Tests of the toolbox: its building blocks (unit), and the built binary driven over real HTTP and a
# real store (integration).
find_package(doctest REQUIRED)
include(doctest)

add_executable(hookrx_toolbox_tests
  ${PROJECT_SOURCE_DIR}/tests/main.cpp
  ${PROJECT_SOURCE_DIR}/tests/support.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_event_builder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_signing.cpp)
target_compile_definitions(hookrx_toolbox_tests PRIVATE HOOKRX_SHARED_DIR="${HOOKRX_SHARED_DIR}")
target_include_directories(hookrx_toolbox_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(hookrx_toolbox_tests PRIVATE hookrx_toolbox doctest::doctest simdjson::simdjson OpenSSL::Crypto
  hookrx_warnings)
doctest_discover_tests(hookrx_toolbox_tests)

add_executable(hookrx_toolbox_cli_tests
  ${PROJECT_SOURCE_DIR}/tests/main.cpp
  ${PROJECT_SOURCE_DIR}/tests/support.cpp
  ${CMAKE_CURRENT_LIST_DIR}/toolbox_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/toolbox_serve.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_send_sign.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_toolbox_serve.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_check_submit.cpp)
target_compile_definitions(hookrx_toolbox_cli_tests PRIVATE HOOKRX_SHARED_DIR="${HOOKRX_SHARED_DIR}"
  HOOKRX_BINARY="$<TARGET_FILE:hookrx_cli>")
target_include_directories(hookrx_toolbox_cli_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(hookrx_toolbox_cli_tests PRIVATE hookrx_toolbox hookrx_fake_api_lib hookrx::api hookrx::sqlite doctest::doctest simdjson::simdjson
  OpenSSL::Crypto PkgConfig::HOOKRX_PC_HTTPLIB_CLI Threads::Threads hookrx_warnings)
add_dependencies(hookrx_toolbox_cli_tests hookrx_cli)
doctest_discover_tests(hookrx_toolbox_cli_tests PROPERTIES LABELS integration)

# The .deb: built, installed into a scratch root, and run (tests/cli/package_test.sh).
if(HOOKRX_INSTALL)
  find_program(HOOKRX_DPKG dpkg)
  find_program(HOOKRX_DPKG_SHLIBDEPS dpkg-shlibdeps)
  if(HOOKRX_DPKG AND HOOKRX_DPKG_SHLIBDEPS)
    add_test(NAME cli.package COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/package_test.sh ${PROJECT_BINARY_DIR})
    set_tests_properties(cli.package PROPERTIES LABELS integration TIMEOUT 300 PASS_REGULAR_EXPRESSION "package_test: ok")
  else()
    message(STATUS "hookrx: dpkg-dev not found: the package test (cli.package) is not registered")
  endif()
endif()

# inbox on PostgreSQL, on the throw-away server of the postgres_server fixture (stores/postgres).
if(TARGET hookrx::postgres)
  get_directory_property(toolbox_pg_dir DIRECTORY ${PROJECT_SOURCE_DIR}/stores/postgres DEFINITION HOOKRX_PG_TEST_DIR)
  if(toolbox_pg_dir)
    find_package(PostgreSQL REQUIRED)
    add_executable(hookrx_toolbox_pg_tests
      ${PROJECT_SOURCE_DIR}/tests/main.cpp
      ${PROJECT_SOURCE_DIR}/tests/support.cpp
      ${CMAKE_CURRENT_LIST_DIR}/toolbox_process.cpp
      ${CMAKE_CURRENT_LIST_DIR}/toolbox_serve.cpp
      ${CMAKE_CURRENT_LIST_DIR}/test_toolbox_postgres.cpp)
    target_compile_definitions(hookrx_toolbox_pg_tests PRIVATE HOOKRX_SHARED_DIR="${HOOKRX_SHARED_DIR}"
      HOOKRX_BINARY="$<TARGET_FILE:hookrx_cli>")
    target_include_directories(hookrx_toolbox_pg_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(hookrx_toolbox_pg_tests PRIVATE hookrx::hookrx doctest::doctest OpenSSL::Crypto
      PostgreSQL::PostgreSQL Threads::Threads hookrx_warnings)
    add_dependencies(hookrx_toolbox_pg_tests hookrx_cli)
    doctest_discover_tests(hookrx_toolbox_pg_tests PROPERTIES LABELS integration FIXTURES_REQUIRED postgres_server
      ENVIRONMENT "HOOKRX_PG_CONNINFO_FILE=${toolbox_pg_dir}/conninfo")
  endif()
endif()
