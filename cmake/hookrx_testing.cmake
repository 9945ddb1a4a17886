# Test helpers shared by the backends whose tests need a real server (PostgreSQL, Redis).

# hookrx_add_test_server(<name> SCRIPT <script> START_TIMEOUT <seconds> DIR_VAR <var>)
#
# A throw-away server for the whole ctest run: `bash <script> start|stop <dir>` as the tests
# <name>.server.start / <name>.server.stop, which set up and clean up the ctest fixture
# <name>_server. <dir> is unique per build tree, so two build trees on one machine never share a
# server; it is returned in <var>.
function(hookrx_add_test_server name)
  cmake_parse_arguments(arg "" "SCRIPT;START_TIMEOUT;DIR_VAR" "" ${ARGN})
  string(MD5 hash "${CMAKE_CURRENT_BINARY_DIR}")
  string(SUBSTRING "${hash}" 0 10 hash)
  set(dir "/tmp/hookrx-${name}-${hash}")
  add_test(NAME ${name}.server.start COMMAND bash ${arg_SCRIPT} start ${dir})
  add_test(NAME ${name}.server.stop COMMAND bash ${arg_SCRIPT} stop ${dir})
  set_tests_properties(${name}.server.start PROPERTIES
    FIXTURES_SETUP ${name}_server LABELS integration TIMEOUT ${arg_START_TIMEOUT})
  set_tests_properties(${name}.server.stop PROPERTIES
    FIXTURES_CLEANUP ${name}_server LABELS integration TIMEOUT 60)
  set(${arg_DIR_VAR} "${dir}" PARENT_SCOPE)
endfunction()
