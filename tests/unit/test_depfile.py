"""What the tools say they read: clang/emcc ``-MD`` files, rustc and Cargo dep-info, wasm-ld
``--trace`` lines; and which of those files belong to the project."""

from __future__ import annotations

import pytest

from wasmforge.build.depfile import in_project, is_trace_line, prerequisites, traced_files

# prerequisites ------------------------------------------------------------------------------------


def test_clang_depfile_with_continuations() -> None:
    text = (
        "/out/app/obj/main.o: /src/src/main.c /src/include/app.h \\\n"
        "  /opt/wasi-sdk/share/wasi-sysroot/include/stdio.h \\\n"
        "  /src/include/util.h\n"
    )
    assert prerequisites(text) == [
        "/src/src/main.c", "/src/include/app.h",
        "/opt/wasi-sdk/share/wasi-sysroot/include/stdio.h", "/src/include/util.h",
    ]


def test_crlf_continuations() -> None:
    text = "main.o: main.c \\\r\n  a.h \\\r\n  b.h\r\n"
    assert prerequisites(text) == ["main.c", "a.h", "b.h"]


def test_escaped_spaces_hashes_and_dollars() -> None:
    text = "/out/my\\ obj.o: /src/my\\ dir/file\\ one.c /src/odd\\#name.h /src/cost$$.h \\\n a\\\\b.h\n"
    assert prerequisites(text) == [
        "/src/my dir/file one.c", "/src/odd#name.h", "/src/cost$.h", "a\\b.h"]


def test_target_with_an_escaped_space_is_not_split_at_the_wrong_colon() -> None:
    assert prerequisites("a\\ b.o: c.c\n") == ["c.c"]


def test_colon_inside_a_path_is_not_a_rule_separator() -> None:
    assert prerequisites("out.o: /src/a:b/c.h d.h\n") == ["/src/a:b/c.h", "d.h"]


def test_tabs_separate_words() -> None:
    assert prerequisites("out.o:\ta.c\tb.h\n") == ["a.c", "b.h"]


def test_each_prerequisite_once_in_first_seen_order() -> None:
    text = "a.o: x.h y.h\nb.o: y.h z.h x.h\n"
    assert prerequisites(text) == ["x.h", "y.h", "z.h"]


def test_rustc_dep_info_with_phony_rules() -> None:
    text = (
        "/out/app/target/wasm32-wasip1/release/deps/app-0123.d: src/main.rs src/util.rs "
        "src/util/deep.rs\n"
        "\n"
        "/out/app/target/wasm32-wasip1/release/deps/app-0123.wasm: src/main.rs src/util.rs "
        "src/util/deep.rs\n"
        "\n"
        "src/main.rs:\n"
        "src/util.rs:\n"
        "src/util/deep.rs:\n"
    )
    assert prerequisites(text) == ["src/main.rs", "src/util.rs", "src/util/deep.rs"]


def test_cargo_env_dep_and_checksum_comments_are_not_files() -> None:
    text = (
        "/out/app/target/release/app.wasm: /src/src/main.rs /src/build.rs\n"
        "\n"
        "# env-dep:CARGO_PKG_NAME=app\n"
        "# env-dep:OUT_DIR=/out/app/target/release/build/app-1/out\n"
        "  # checksum:blake3=abc file_len:12 src/main.rs\n"
        "/src/src/main.rs:\n"
    )
    assert prerequisites(text) == ["/src/src/main.rs", "/src/build.rs"]


def test_lines_without_a_rule_are_ignored() -> None:
    assert prerequisites("just some words\n\n   \n") == []
    assert prerequisites("") == []


def test_rule_without_a_trailing_newline() -> None:
    assert prerequisites("a.o: a.c a.h") == ["a.c", "a.h"]


def test_continuation_lines_that_are_otherwise_blank() -> None:
    text = "a.o: a.c \\\n \\\n  a.h\n"
    assert prerequisites(text) == ["a.c", "a.h"]


# --trace ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "/out/app/obj/main.o",
        "/usr/lib/wasm32-wasi/libc.a(exit.o)",
        "/opt/wasi-sdk/lib/clang/18/lib/wasi/libclang_rt.builtins-wasm32.a(floatsidf.c.o)",
        "/src/lib/my lib.a",
        "/out/app/obj/main.o\n",
    ],
)
def test_trace_lines(line: str) -> None:
    assert is_trace_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "wasm-ld: error: /out/app/obj/main.o: undefined symbol: foo",
        "/out/app/obj/main.o: warning: something",
        "warning: unused",
        "main.o",
        "",
        "\t/out/app/obj/main.o",
        "/out/app/obj/main.o\tmore",
    ],
)
def test_not_trace_lines(line: str) -> None:
    assert not is_trace_line(line)


def test_traced_files_names_an_archive_once() -> None:
    lines = [
        "/out/app/obj/main.o",
        "/usr/lib/wasm32-wasi/libc.a(exit.o)",
        "/usr/lib/wasm32-wasi/libc.a(printf.o)",
        "wasm-ld: warning: function signature mismatch: foo",
        "/src/lib/libfoo.a(foo.o)\n",
        "/out/app/obj/main.o",
    ]
    assert traced_files(lines) == [
        "/out/app/obj/main.o", "/usr/lib/wasm32-wasi/libc.a", "/src/lib/libfoo.a"]


def test_traced_files_of_no_output() -> None:
    assert traced_files([]) == []
    assert traced_files(["wasm-ld: error: nothing"]) == []


# in_project ---------------------------------------------------------------------------------------


def test_in_project_keeps_project_files_as_relative_paths() -> None:
    paths = ["/src/src/main.c", "/src/include/app.h", "/opt/wasi-sdk/include/stdio.h",
             "/out/app/obj/main.o", "/usr/lib/wasm32-wasi/libc.a", "/src/lib/libfoo.a"]
    assert in_project(paths, "/src", "/src") == [
        "src/main.c", "include/app.h", "lib/libfoo.a"]


def test_in_project_resolves_relative_paths_against_cwd() -> None:
    paths = ["src/main.rs", "../shared/lib.rs", "./build.rs", "../../etc/passwd"]
    assert in_project(paths, "/src", "/src/crate") == [
        "crate/src/main.rs", "shared/lib.rs", "crate/build.rs"]


def test_in_project_normalises_dots_in_absolute_paths() -> None:
    paths = ["/src/include/../src/a.h", "/src/./b.h", "/src/../etc/c.h"]
    assert in_project(paths, "/src", "/") == ["src/a.h", "b.h"]


def test_in_project_does_not_take_a_sibling_with_the_same_prefix() -> None:
    assert in_project(["/srcfoo/a.h", "/src-other/b.h", "/src"], "/src", "/") == []


def test_in_project_accepts_a_root_with_a_trailing_slash_and_a_host_root() -> None:
    assert in_project(["/src/a.h"], "/src/", "/") == ["a.h"]
    assert in_project(["/home/me/proj/inc/a.h", "inc/b.h"], "/home/me/proj",
                      "/home/me/proj/build") == ["inc/a.h", "build/inc/b.h"]


def test_in_project_lists_each_file_once() -> None:
    assert in_project(["/src/a.h", "a.h", "/src/./a.h"], "/src", "/src") == ["a.h"]


def test_whole_pipeline_from_depfile_to_project_files() -> None:
    text = "/out/app/obj/main.o: /src/src/main.c ../include/app.h \\\n /usr/include/stdio.h\n"
    assert in_project(prerequisites(text), "/src", "/src/src") == ["src/main.c", "include/app.h"]
