//! mfkv build.  `zig build` (Debug, with UBSan) or `zig build -Doptimize=ReleaseFast`.
//!
//! Sources are discovered by folder so that adding a file needs no edit here:
//!   src/reader/*.c             libmfkv, the public reader library (include/mfkv.h)
//!   src/{common,io,builder,train,serve}/*.c   libmfkvcore, internal, linked into the CLI
//!   src/cli/*.c                the `mfkv` executable
//!   tests/unit/test_*.c        one cmocka test program each  -> zig-out/tests/
//!   tools/bench/*.c            benchmark programs            -> zig-out/bench/
//! Everything links Debian's system libraries on the native target, so the
//! multiarch library paths are searched.
const std = @import("std");

const c_flags = [_][]const u8{
    "-std=c17",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wno-unused-parameter",
    "-fno-strict-aliasing",
};

const core_dirs = [_][]const u8{ "src/common", "src/io", "src/builder", "src/train", "src/serve" };

pub fn build(b: *std.Build) !void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // --- libmfkv: static and shared, with header and pkg-config file -----------
    const reader_sources = try listC(b, "src/reader", null);
    const lib_static = addReaderLib(b, target, optimize, .static, reader_sources);
    const lib_shared = addReaderLib(b, target, optimize, .dynamic, reader_sources);
    b.installArtifact(lib_static);
    b.installArtifact(lib_shared);
    b.getInstallStep().dependOn(&b.addInstallHeaderFile(b.path("include/mfkv.h"), "mfkv.h").step);
    const pc = b.addWriteFiles().add("mfkv.pc", b.fmt(
        \\prefix={s}
        \\libdir=${{prefix}}/lib
        \\includedir=${{prefix}}/include
        \\
        \\Name: mfkv
        \\Description: Zero-copy reader for mfkv precomputed-recommendation stores
        \\Version: 0.1.0
        \\Requires.private: lmdb libxxhash
        \\Libs: -L${{libdir}} -lmfkv
        \\Cflags: -I${{includedir}}
        \\
    , .{b.install_prefix}));
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(pc, .lib, "pkgconfig/mfkv.pc").step);

    // --- libmfkvcore: everything the CLI, tests and benchmarks share -----------
    const core_mod = newModule(b, target, optimize);
    for (core_dirs) |dir| {
        core_mod.addCSourceFiles(.{ .files = try listC(b, dir, null), .flags = &c_flags });
    }
    // A static archive must not link shared libraries (zig would archive the
    // .so files); the programs that use it link them instead.
    const core = b.addLibrary(.{ .name = "mfkvcore", .root_module = core_mod, .linkage = .static });

    // --- the mfkv CLI ----------------------------------------------------------
    const exe = addProgram(b, target, optimize, "mfkv", try listC(b, "src/cli", null), core, lib_static, false);
    b.installArtifact(exe);

    // --- tests: one program per tests/unit/test_*.c ----------------------------
    const test_step = b.step("test", "Build and run the C unit tests");
    const tests_install = b.step("tests", "Build the C unit test programs into zig-out/tests");
    for (try listC(b, "tests/unit", "test_")) |file| {
        const name = std.fs.path.stem(file);
        const t = addProgram(b, target, optimize, name, &.{file}, core, lib_static, true);
        const inst = b.addInstallArtifact(t, .{ .dest_dir = .{ .override = .{ .custom = "tests" } } });
        tests_install.dependOn(&inst.step);
        b.getInstallStep().dependOn(&inst.step);
        const run = b.addRunArtifact(t);
        run.setCwd(b.path("."));
        run.setEnvironmentVariable("MFKV_FIXTURES", b.pathFromRoot("tests/fixtures"));
        test_step.dependOn(&run.step);
    }

    // --- benchmark programs ------------------------------------------------------
    for (try listC(b, "tools/bench", null)) |file| {
        const name = std.fs.path.stem(file);
        const p = addProgram(b, target, optimize, name, &.{file}, core, lib_static, false);
        b.getInstallStep().dependOn(&b.addInstallArtifact(p, .{ .dest_dir = .{ .override = .{ .custom = "bench" } } }).step);
    }
}

fn newModule(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) *std.Build.Module {
    const m = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    m.addIncludePath(b.path("include"));
    m.addIncludePath(b.path("src"));
    return m;
}

fn linkDeps(m: *std.Build.Module, all: bool) void {
    m.linkSystemLibrary("lmdb", .{});
    m.linkSystemLibrary("xxhash", .{});
    if (all) {
        // Debian 12 ships no libcblas.so: OpenBLAS carries the CBLAS and LAPACK symbols.
        m.linkSystemLibrary("openblas", .{});
        m.linkSystemLibrary("jansson", .{});
        m.linkSystemLibrary("csv", .{ .use_pkg_config = .no });
        m.linkSystemLibrary("microhttpd", .{});
        m.linkSystemLibrary("m", .{ .use_pkg_config = .no });
        m.linkSystemLibrary("pthread", .{ .use_pkg_config = .no });
    }
}

fn addReaderLib(
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    linkage: std.builtin.LinkMode,
    sources: []const []const u8,
) *std.Build.Step.Compile {
    const m = newModule(b, target, optimize);
    m.addCSourceFiles(.{ .files = sources, .flags = &c_flags });
    if (linkage == .dynamic) {
        m.pic = true;
        linkDeps(m, false);
        m.linkSystemLibrary("pthread", .{ .use_pkg_config = .no });
    }
    const lib = b.addLibrary(.{ .name = "mfkv", .root_module = m, .linkage = linkage, .version = .{ .major = 0, .minor = 1, .patch = 0 } });
    // A Debug archive calls UBSan's handlers: carry zig's runtime for them, or
    // a program linking libmfkv.a with another compiler has them undefined.
    if (linkage == .static) lib.bundle_ubsan_rt = true;
    return lib;
}

fn addProgram(
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    name: []const u8,
    sources: []const []const u8,
    core: *std.Build.Step.Compile,
    reader: *std.Build.Step.Compile,
    is_test: bool,
) *std.Build.Step.Compile {
    const m = newModule(b, target, optimize);
    m.addCSourceFiles(.{ .files = sources, .flags = &c_flags });
    m.linkLibrary(core);
    m.linkLibrary(reader);
    linkDeps(m, true);
    if (is_test) m.linkSystemLibrary("cmocka", .{});
    return b.addExecutable(.{ .name = name, .root_module = m });
}

/// The .c files directly in `dir` (relative to the build root), sorted so the
/// build is deterministic; only names starting with `prefix` when given.
fn listC(b: *std.Build, dir: []const u8, prefix: ?[]const u8) ![]const []const u8 {
    var list: std.ArrayList([]const u8) = .empty;
    var d = b.build_root.handle.openDir(dir, .{ .iterate = true }) catch |err| switch (err) {
        error.FileNotFound => return list.toOwnedSlice(b.allocator),
        else => return err,
    };
    defer d.close();
    var it = d.iterate();
    while (try it.next()) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.name, ".c")) continue;
        if (prefix) |p| if (!std.mem.startsWith(u8, entry.name, p)) continue;
        try list.append(b.allocator, b.fmt("{s}/{s}", .{ dir, entry.name }));
    }
    std.mem.sort([]const u8, list.items, {}, struct {
        fn lt(_: void, x: []const u8, y: []const u8) bool {
            return std.mem.lessThan(u8, x, y);
        }
    }.lt);
    return list.toOwnedSlice(b.allocator);
}
