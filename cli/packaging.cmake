# Installing hookrx as a service: `cmake --install` puts the binary in bin/, a commented example
# config (and the environment file for secrets) in share/doc/hookrx/ and the config dir, and a
# hardened systemd unit; `cpack -G DEB` makes a Debian package of exactly that (component
# `service`: not the library's headers and CMake files), whose Depends dpkg-shlibdeps derives from
# the libraries the binary links.
#
#   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build --target hookrx_cli
#   (cd build && cpack -G DEB)       # hookrx_0.1.0_amd64.deb
set(packaging_dir ${CMAKE_CURRENT_LIST_DIR}/packaging)

install(TARGETS hookrx_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT service)
install(FILES ${packaging_dir}/hookrx.toml.example ${packaging_dir}/hookrx.env.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT service)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT service)

# The unit and the config carry absolute paths that depend on the prefix given at install time
# (`cmake --install --prefix`, or /usr for the .deb), so they are written then, not at configure
# time: /usr installs its config in /etc (GNU convention), any other prefix in PREFIX/etc.
install(CODE "
  set(hookrx_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(hookrx_prefix STREQUAL \"/usr\")
    set(HOOKRX_CONFIG_DIR /etc/hookrx)
  else()
    set(HOOKRX_CONFIG_DIR \"\${hookrx_prefix}/${CMAKE_INSTALL_SYSCONFDIR}/hookrx\")
  endif()
  set(HOOKRX_BIN_DIR \"\${hookrx_prefix}/${CMAKE_INSTALL_BINDIR}\")
  set(HOOKRX_DOC_DIR \"\${hookrx_prefix}/${CMAKE_INSTALL_DOCDIR}\")
  set(unit_dir \"\$ENV{DESTDIR}\${hookrx_prefix}/lib/systemd/system\")
  set(config_dir \"\$ENV{DESTDIR}\${HOOKRX_CONFIG_DIR}\")
  configure_file(\"${packaging_dir}/hookrx.service.in\" \"\${unit_dir}/hookrx.service\" @ONLY)
  message(STATUS \"Installing: \${unit_dir}/hookrx.service\")
  file(MAKE_DIRECTORY \"\${config_dir}\")
  if(NOT EXISTS \"\${config_dir}/hookrx.toml\")  # never overwrite an operator's config
    configure_file(\"${packaging_dir}/hookrx.toml.example\" \"\${config_dir}/hookrx.toml\" COPYONLY)
    message(STATUS \"Installing: \${config_dir}/hookrx.toml\")
  endif()
" COMPONENT service)

# The Debian package: only the service component, at /usr.
set(CPACK_PACKAGE_NAME hookrx)
set(CPACK_PACKAGE_VENDOR "hookrx")
set(CPACK_PACKAGE_CONTACT "hookrx maintainers <hookrx@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "webhook receiver for PerfectParser and Parashift: verify, dedup, store, hand on")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};hookrx;service;/")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: the Debian libraries the binary links
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${packaging_dir}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
include(CPack)
