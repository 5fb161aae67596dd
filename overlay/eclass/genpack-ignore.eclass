# Copyright 2026 genpack studio authors
# Distributed under the terms of the MIT License

# @ECLASS: genpack-ignore.eclass
# @MAINTAINER:
# genpack studio
# @SUPPORTED_EAPIS: 7 8
# @BLURB: Marks a package as needed to build images but never part of one.
# @DESCRIPTION:
# genpack copies into an image only the runtime closure of the image's packages, read from the
# installed-package database. A package that inherits this eclass is left out of that closure
# together with every dependency that only it pulls in. Use it for build helpers (such as
# genpack/genpack-progs) and for packages whose output is consumed while the image is built
# (an initramfs generator, for example) but which have no business in the running system.
# The eclass defines no phase functions: its presence in INHERITED is the whole effect.

case ${EAPI} in
	7|8) ;;
	*) die "${ECLASS}: EAPI ${EAPI:-0} not supported" ;;
esac

if [[ -z ${_GENPACK_IGNORE_ECLASS} ]]; then
_GENPACK_IGNORE_ECLASS=1
fi
