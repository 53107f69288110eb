# mn tools: build, install and uninstall.
#
#   make                      cargo build --release
#   make install              binaries, mn, man pages, completions in PREFIX
#   make uninstall            removes exactly what install put there
#
# PREFIX (default /usr/local) and DESTDIR (staged installs, packaging) are
# honoured. The installed mn lives in PREFIX/lib/mn-tools (with its parts
# and example topologies); PREFIX/bin/mn is a symlink to it, and it finds
# the tools in PREFIX/bin. BUILD_DIR is where the binaries are taken from
# (default: what cargo build --release makes; the tests pass their own).

PREFIX ?= /usr/local
DESTDIR ?=
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
BUILD_DIR ?= target/$(HOST)/release

BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib/mn-tools
MANDIR := $(PREFIX)/share/man/man1
BASHDIR := $(PREFIX)/share/bash-completion/completions
ZSHDIR := $(PREFIX)/share/zsh/site-functions
FISHDIR := $(PREFIX)/share/fish/vendor_completions.d

TOOLS := mnexec mnnode mnlink mnrun
MANPAGES := $(notdir $(wildcard man/*.1))
BASH_COMPLETIONS := $(notdir $(wildcard completions/bash/*))
ZSH_COMPLETIONS := $(notdir $(wildcard completions/zsh/_*))
FISH_COMPLETIONS := $(notdir $(wildcard completions/fish/*.fish))

.PHONY: all install uninstall

all: $(addprefix $(BUILD_DIR)/,$(TOOLS))

$(addprefix $(BUILD_DIR)/,$(TOOLS)) &:
	cargo build --release

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/lib $(DESTDIR)$(LIBDIR)/topologies \
		$(DESTDIR)$(MANDIR) $(DESTDIR)$(BASHDIR) $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR)
	install -m 755 $(addprefix $(BUILD_DIR)/,$(TOOLS)) $(DESTDIR)$(BINDIR)/
	install -m 755 scripts/mn $(DESTDIR)$(LIBDIR)/mn
	# mn's parts, whatever they are (shell, a Python shim, ...), and the examples.
	cp -R scripts/lib/. $(DESTDIR)$(LIBDIR)/lib/
	cp -R scripts/topologies/. $(DESTDIR)$(LIBDIR)/topologies/
	ln -sfn ../lib/mn-tools/mn $(DESTDIR)$(BINDIR)/mn
	install -m 644 $(addprefix man/,$(MANPAGES)) $(DESTDIR)$(MANDIR)/
	install -m 644 $(addprefix completions/bash/,$(BASH_COMPLETIONS)) $(DESTDIR)$(BASHDIR)/
	install -m 644 $(addprefix completions/zsh/,$(ZSH_COMPLETIONS)) $(DESTDIR)$(ZSHDIR)/
	install -m 644 $(addprefix completions/fish/,$(FISH_COMPLETIONS)) $(DESTDIR)$(FISHDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(TOOLS) mn)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/,$(MANPAGES))
	rm -f $(addprefix $(DESTDIR)$(BASHDIR)/,$(BASH_COMPLETIONS))
	rm -f $(addprefix $(DESTDIR)$(ZSHDIR)/,$(ZSH_COMPLETIONS))
	rm -f $(addprefix $(DESTDIR)$(FISHDIR)/,$(FISH_COMPLETIONS))
	rm -rf $(DESTDIR)$(LIBDIR)
