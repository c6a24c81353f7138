//! mfkv build.  `zig build` (Debug, with UBSan) or `zig build -Doptimize=ReleaseFast`.
//!
//! Sources are discovered by folder so that adding a file needs no edit here:
//!   src/reader/*.c             libmfkv, the public reader library (include/mfkv.h)
//!   src/{common,io,builder,train,render,serve}/*.c   libmfkvcore, internal, linked into the CLI
//!                              (and their *.cpp, compiled by g++)
//!   src/cli/*.c                the `mfkv` executable
//!   src/buildlib/*.c           libmfkvbuild, the shared builder library (include/mfkv_build.h)
//!   tests/unit/test_*.c        one cmocka test program each  -> zig-out/tests/
//!   tools/bench/*.c            benchmark programs            -> zig-out/bench/
//! Everything links Debian's system libraries on the native target, so the
//! multiarch library paths are searched.
const std = @import("std");

/// The C flags, from build-flags.txt (shared with tools/asan-build.sh and
/// tools/fuzz.sh); read once at the start of build().
var c_flags: []const []const u8 = &.{};

const core_dirs = [_][]const u8{ "src/common", "src/io", "src/builder", "src/train", "src/render", "src/serve" };

pub fn build(b: *std.Build) !void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const version = try readVersion(b);
    c_flags = try readFlags(b, "c");

    // --- libmfkv: static and shared, with header and pkg-config file -----------
    const reader_sources = try listC(b, "src/reader", null);
    const lib_static = addReaderLib(b, target, optimize, .static, reader_sources, version);
    const lib_shared = addReaderLib(b, target, optimize, .dynamic, reader_sources, version);
    b.installArtifact(lib_static);
    b.installArtifact(lib_shared);
    b.getInstallStep().dependOn(&b.addInstallHeaderFile(b.path("include/mfkv.h"), "mfkv.h").step);
    // The prefix is ${pcfiledir}/../.. (pkg-config and pkgconf both define
    // pcfiledir), so an installed tree works wherever it is copied to; the
    // rpath lets a program linked against the shared library find it there
    // without LD_LIBRARY_PATH.
    const pc = b.addWriteFiles().add("mfkv.pc", b.fmt(
        \\prefix=${{pcfiledir}}/../..
        \\libdir=${{prefix}}/lib
        \\includedir=${{prefix}}/include
        \\
        \\Name: mfkv
        \\Description: Zero-copy reader for mfkv precomputed-recommendation stores
        \\Version: {f}
        \\Requires.private: lmdb libxxhash
        \\Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lmfkv
        \\Libs.private: -lpthread
        \\Cflags: -I${{includedir}}
        \\
    , .{version}));
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(pc, .lib, "pkgconfig/mfkv.pc").step);

    // --- libmfkvcore: everything the CLI, tests and benchmarks share -----------
    const core_mod = newModule(b, target, optimize);
    for (core_dirs) |dir| {
        core_mod.addCSourceFiles(.{ .files = try listC(b, dir, null), .flags = c_flags });
    }
    // The .cpp files of those folders: thin C++ files behind C interfaces,
    // around Debian's C++ libraries (simdjson, fast_float in src/io, fmt in
    // src/common).  libsimdjson is built by g++ against libstdc++, so g++
    // compiles these too (zig's clang would use its own libc++) and the
    // programs link libstdc++.
    for (core_dirs) |dir| {
        for (try listFiles(b, dir, null, ".cpp")) |file| {
            const cxx = b.addSystemCommand(&.{ "g++", "-O2", "-c" });
            cxx.addArgs(try readFlags(b, "cxx"));
            cxx.addArg("-I");
            cxx.addDirectoryArg(b.path("src"));
            cxx.addFileArg(b.path(file));
            for (try listFiles(b, dir, null, ".h")) |h| cxx.addFileInput(b.path(h));
            cxx.addArg("-o");
            core_mod.addObjectFile(cxx.addOutputFileArg(b.fmt("{s}.o", .{std.fs.path.stem(file)})));
        }
    }
    // A static archive must not link shared libraries (zig would archive the
    // .so files); the programs that use it link them instead.
    core_mod.pic = true; // also linked into libmfkvbuild.so
    const core = b.addLibrary(.{ .name = "mfkvcore", .root_module = core_mod, .linkage = .static });

    // --- libmfkvbuild: the builder for programs that hold a model in memory --
    const buildlib_mod = newModule(b, target, optimize);
    buildlib_mod.pic = true;
    buildlib_mod.addCSourceFiles(.{ .files = try listC(b, "src/buildlib", null), .flags = c_flags });
    buildlib_mod.linkLibrary(core);
    buildlib_mod.linkLibrary(lib_static);
    linkDeps(buildlib_mod, true);
    const buildlib = b.addLibrary(.{ .name = "mfkvbuild", .root_module = buildlib_mod, .linkage = .dynamic, .version = .{ .major = 0, .minor = 1, .patch = 0 } });
    buildlib.setVersionScript(b.path("src/buildlib/mfkvbuild.map"));
    b.installArtifact(buildlib);
    b.getInstallStep().dependOn(&b.addInstallHeaderFile(b.path("include/mfkv_build.h"), "mfkv_build.h").step);

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
        m.linkSystemLibrary("simdjson", .{});
        // By path: zig reads -lstdc++ as its own libc++.
        m.addObjectFile(.{ .cwd_relative = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6" });
        m.linkSystemLibrary("csv", .{ .use_pkg_config = .no });
        m.linkSystemLibrary("http_parser", .{ .use_pkg_config = .no });
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
    version: std.SemanticVersion,
) *std.Build.Step.Compile {
    const m = newModule(b, target, optimize);
    // Other programs link these with plain gcc, which has no Zig UBSan
    // runtime: a Debug build's checks trap instead of calling into it, so
    // undefined behaviour still stops the program without a runtime to link.
    m.sanitize_c = if (optimize == .Debug) .trap else null;
    m.addCSourceFiles(.{ .files = sources, .flags = c_flags });
    m.pic = true; // the static one is linked into libmfkvbuild.so
    if (linkage == .dynamic) {
        m.pic = true;
        linkDeps(m, false);
        m.linkSystemLibrary("pthread", .{ .use_pkg_config = .no });
    }
    return b.addLibrary(.{ .name = "mfkv", .root_module = m, .linkage = linkage, .version = version });
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
    m.addCSourceFiles(.{ .files = sources, .flags = c_flags });
    m.linkLibrary(core);
    m.linkLibrary(reader);
    linkDeps(m, true);
    if (is_test) m.linkSystemLibrary("cmocka", .{});
    return b.addExecutable(.{ .name = name, .root_module = m });
}

/// The .c files directly in `dir` (relative to the build root), sorted so the
/// build is deterministic; only names starting with `prefix` when given.
fn listC(b: *std.Build, dir: []const u8, prefix: ?[]const u8) ![]const []const u8 {
    return listFiles(b, dir, prefix, ".c");
}

/// Like listC, for the files whose names end in `ext`.
fn listFiles(b: *std.Build, dir: []const u8, prefix: ?[]const u8, ext: []const u8) ![]const []const u8 {
    var list: std.ArrayList([]const u8) = .empty;
    var d = b.build_root.handle.openDir(dir, .{ .iterate = true }) catch |err| switch (err) {
        error.FileNotFound => return list.toOwnedSlice(b.allocator),
        else => return err,
    };
    defer d.close();
    var it = d.iterate();
    while (try it.next()) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.name, ext)) continue;
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

/// The flags of list `name` in build-flags.txt (its header says the format).
fn readFlags(b: *std.Build, name: []const u8) ![]const []const u8 {
    const text = try b.build_root.handle.readFileAlloc(b.allocator, "build-flags.txt", 1 << 16);
    var lines = std.mem.tokenizeScalar(u8, text, '\n');
    while (lines.next()) |line| {
        if (line.len <= name.len or !std.mem.startsWith(u8, line, name) or line[name.len] != ':') continue;
        var list: std.ArrayList([]const u8) = .empty;
        var words = std.mem.tokenizeAny(u8, line[name.len + 1 ..], " \t");
        while (words.next()) |w| try list.append(b.allocator, w);
        return list.toOwnedSlice(b.allocator);
    }
    return error.FlagsNotInBuildFlagsTxt;
}

/// The release version, read from include/mfkv.h's MFKV_VERSION_MAJOR/MINOR/
/// PATCH so that the header stays its only home.
fn readVersion(b: *std.Build) !std.SemanticVersion {
    const text = try b.build_root.handle.readFileAlloc(b.allocator, "include/mfkv.h", 1 << 20);
    var v: std.SemanticVersion = .{ .major = 0, .minor = 0, .patch = 0 };
    var found: u8 = 0;
    var lines = std.mem.tokenizeScalar(u8, text, '\n');
    while (lines.next()) |line| {
        var words = std.mem.tokenizeAny(u8, line, " \t");
        if (!std.mem.eql(u8, words.next() orelse continue, "#define")) continue;
        const name = words.next() orelse continue;
        const field: *usize = if (std.mem.eql(u8, name, "MFKV_VERSION_MAJOR")) &v.major else if (std.mem.eql(u8, name, "MFKV_VERSION_MINOR")) &v.minor else if (std.mem.eql(u8, name, "MFKV_VERSION_PATCH")) &v.patch else continue;
        field.* = try std.fmt.parseInt(usize, words.next() orelse return error.BadVersionLine, 10);
        found += 1;
    }
    if (found != 3) return error.VersionNotInHeader;
    return v;
}
