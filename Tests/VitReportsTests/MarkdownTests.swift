import XCTest
@testable import VitReports

/// Three mixers at two resolutions; pooling at 224 measured twice (repetitions), repmixer at
/// 256 noisy, attention at 256 failed.
let mixersCSV = """
    model,mixer,form,resolution,batch,threads,pinning,backend,median_ms,noisy,error,samples_ms
    metaformer_s12:pooling,pooling,inference,224,1,1,compact,packed,10.0,no,,9.9;10.0;10.1
    metaformer_s12:pooling,pooling,inference,256,1,1,compact,packed,13.0,no,,13.0
    metaformer_s12:repmixer,repmixer,inference,224,1,1,compact,packed,11.0,no,,11.0
    metaformer_s12:repmixer,repmixer,inference,256,1,1,compact,packed,14.3,yes,,14.3
    metaformer_s12:attention,attention,inference,224,1,1,compact,packed,20.0,no,,20.0
    metaformer_s12:attention,attention,inference,256,1,1,compact,packed,,,"out of memory | big",
    metaformer_s12:pooling,pooling,inference,224,1,1,compact,packed,10.4,no,,10.4

    """

final class MarkdownTests: XCTestCase {
    func testMixerPivotExactMarkdown() throws {
        let table = try ResultTable(csv: mixersCSV, source: "small.csv")
        let md = try MarkdownReport(sections: [.mixers]).render(table)
        XCTAssertEqual(md, """
            # Results: small.csv

            5 configurations measured (7 rows), 1 failed (listed at the end). `~` marks a noisy value: its coefficient of variation is above the protocol's noise threshold.

            ## Token mixers × resolution

            Median latency in ms per token mixer and input resolution, and the ratio to the `pooling` mixer at the same resolution (below 1: faster than `pooling`).
            All: `metaformer_s12`, form inference, batch 1, threads 1, backend packed, pinning compact.

            Median (ms):

            | mixer | 224 | 256 |
            |---|---:|---:|
            | pooling | 10.20 | 13.00 |
            | repmixer | 11.00 | ~14.30 |
            | attention | 20.00 | — |

            Relative to `pooling`:

            | mixer | 224 | 256 |
            |---|---:|---:|
            | pooling | 1.00× | 1.00× |
            | repmixer | 1.08× | ~1.10× |
            | attention | 1.96× | — |

            ## Failed configurations

            | model | form | resolution | batch | threads | backend | pinning | error |
            |---|---|---|---|---|---|---|---|
            | metaformer_s12:attention | inference | 256 | 1 | 1 | packed | compact | out of memory \\| big |

            """)
    }

    func testMixerPivotGroupsAndBaseline() throws {
        // Train and inference forms make two groups; the baseline is configurable and goes first.
        let csv = """
            model,mixer,form,resolution,median_ms
            s:pooling,pooling,train,224,12
            s:repmixer,repmixer,train,224,15
            s:pooling,pooling,inference,224,10
            s:repmixer,repmixer,inference,224,8
            s:attention,attention,inference,224,16
            fastvit_t8,,inference,256,5

            """
        let md = try MarkdownReport(sections: [.mixers], baselineMixer: "repmixer").render(try ResultTable(csv: csv, source: "g.csv"))
        XCTAssertTrue(md.contains("All: `s`.\n\n### form train\n"), md)
        XCTAssertTrue(md.contains("\n### form inference\n"), md)
        XCTAssertTrue(md.contains("| repmixer | 1.00× |\n| pooling | 0.80× |\n"), md)  // train: 12 / 15
        XCTAssertTrue(md.contains("| repmixer | 1.00× |\n| pooling | 1.25× |\n| attention | 2.00× |\n"), md)  // inference
        XCTAssertFalse(md.contains("fastvit_t8"), "models without a mixer stay out of the mixer pivot")

        let noBaseline = try MarkdownReport(sections: [.mixers], baselineMixer: "dwconv").render(try ResultTable(csv: csv, source: "g.csv"))
        XCTAssertTrue(noBaseline.contains("_No ratios: the baseline mixer `dwconv` was not measured here._"), noBaseline)
    }

    func testPivotsNeedTheirData() throws {
        let one = try ResultTable(csv: "model,mixer,resolution,median_ms,threads\ns:pooling,pooling,224,10,1\n", source: "one.csv")
        // Asked for explicitly: a line says why; automatic: left out.
        let explicit = try MarkdownReport(sections: [.mixers, .threads]).render(one)
        XCTAssertTrue(explicit.contains("_No token-mixer pivot: it needs at least two mixers measured in the same setting; found pooling._"), explicit)
        XCTAssertTrue(explicit.contains("_No thread-scaling pivot: no configuration was measured at two or more thread counts._"), explicit)
        let automatic = try MarkdownReport().render(one)
        XCTAssertFalse(automatic.contains("pivot"), automatic)
        XCTAssertTrue(automatic.contains("## All measurements"), automatic)

        // A missing column: an error when asked for, silence otherwise.
        let noMixer = try ResultTable(csv: "model,resolution,median_ms\na,224,1\n", source: "nm.csv")
        XCTAssertThrowsError(try MarkdownReport(sections: [.mixers]).render(noMixer)) { error in
            XCTAssertEqual("\(error)", "nm.csv: the token-mixer pivot needs the column 'mixer', which is not in the header (model, resolution, median_ms)")
        }
        XCTAssertNoThrow(try MarkdownReport().render(noMixer))

        // A bad number: file, line and column.
        let bad = try ResultTable(csv: "model,mixer,resolution,median_ms\na:x,x,224,1\na:y,y,224,slow\n", source: "bad.csv")
        XCTAssertThrowsError(try MarkdownReport().render(bad)) { error in
            XCTAssertEqual("\(error)", "bad.csv:3:4: median_ms: 'slow' is not a number")
        }
        let badResolution = try ResultTable(csv: "model,mixer,resolution,median_ms\na:x,x,224,1\na:y,y,big,2\n", source: "br.csv")
        XCTAssertThrowsError(try MarkdownReport(sections: [.mixers]).render(badResolution)) { error in
            XCTAssertEqual("\(error)", "br.csv:3:3: resolution: 'big' is not an integer")
        }
    }

    func testThreadScalingEfficiency() throws {
        let csv = """
            model,form,resolution,batch,threads,median_ms,noisy
            fastvit_t8,inference,256,1,1,40,no
            fastvit_t8,inference,256,1,2,22,no
            fastvit_t8,inference,256,1,4,12.5,yes
            mobileone_s0,inference,224,1,2,9,no
            mobileone_s0,inference,224,1,4,5,no
            poolformer_s12,inference,224,1,1,30,no

            """
        let md = try MarkdownReport(sections: [.threads]).render(try ResultTable(csv: csv, source: "t.csv"))
        // t8: (40 / 22) / 2 = 90.9%, (40 / 12.5) / 4 = 80%; s0 relative to 2 threads: (9 / 5) / 2 = 90%.
        XCTAssertTrue(md.contains("""
            All: form inference, batch 1.

            | model | resolution | 1 thr. | 2 thr. | 4 thr. |
            |---|---|---:|---:|---:|
            | fastvit_t8 | 256 | 40.00 | 22.00 (91%) | ~12.50 (80%) |
            | mobileone_s0 | 224 | — | 9.000 | 5.000 (90%) |

            """), md)
        XCTAssertFalse(md.contains("poolformer_s12"), "one thread count: not in the pivot")
    }

    /// One table of every model on every backend and kernel ISA, with ratios to the baseline.
    func testBackendsPivot() throws {
        let csv = """
            model,form,resolution,batch,threads,backend,kernel_isa,median_ms,noisy,error
            fastvit_t8,inference,256,1,1,packed,avx512,8,no,
            fastvit_t8,inference,256,1,1,packed,avx2,14,no,
            fastvit_t8,inference,256,1,1,openblas,avx512,10,yes,
            levit_128s,inference,224,1,1,packed,avx512,4,no,
            levit_128s,inference,224,1,1,openblas,avx512,5,no,
            levit_128s,inference,224,1,1,packed,neon,,,kernel ISA 'neon' cannot run on this machine

            """
        let table = try ResultTable(csv: csv, source: "b.csv")
        let md = try MarkdownReport(sections: [.backends]).render(table)
        XCTAssertTrue(md.contains("""
            Median latency in ms per backend · kernel_isa; in brackets the ratio to packed·avx512 (below 1: faster).
            All: form inference, batch 1, threads 1.

            | model | resolution | packed·avx512 | packed·avx2 | openblas·avx512 |
            |---|---|---:|---:|---:|
            | fastvit_t8 | 256 | 8.000 | 14.00 (1.75×) | ~10.00 (1.25×) |
            | levit_128s | 224 | 4.000 | — | 5.000 (1.25×) |

            """), md)
        XCTAssertTrue(md.contains("cannot run on this machine"), "the failed row is listed apart")
        let relative = try MarkdownReport(sections: [.backends], baselineBackend: "openblas·avx512").render(table)
        XCTAssertTrue(relative.contains("| fastvit_t8 | 256 | ~8.000 (0.80×) | ~14.00 (1.40×) | ~10.00 |"), relative)
        XCTAssertThrowsError(try MarkdownReport(sections: [.backends], baselineBackend: "blis").render(table)) { error in
            XCTAssertTrue("\(error)".contains("baseline 'blis' was not measured; measured: packed·avx512, packed·avx2, openblas·avx512"), "\(error)")
        }
        let one = try MarkdownReport(sections: [.backends]).render(try ResultTable(csv: "model,backend,median_ms\na,packed,1\n", source: "o.csv"))
        XCTAssertTrue(one.contains("No backends pivot"), one)
    }

    func testParetoFront() {
        // A: 10 ms 70%, B: 20 ms 75%, C: 25 ms 72% → C is dominated by B (slower and less accurate).
        let points = [ParetoPoint(latency: 10, accuracy: 70), ParetoPoint(latency: 20, accuracy: 75), ParetoPoint(latency: 25, accuracy: 72)]
        XCTAssertEqual(Pareto.front(points), [true, true, false])
        // Ties: equal latency, lower accuracy is dominated; identical points both stay.
        XCTAssertEqual(Pareto.front([ParetoPoint(latency: 10, accuracy: 70), ParetoPoint(latency: 10, accuracy: 71)]), [false, true])
        XCTAssertEqual(Pareto.front([ParetoPoint(latency: 10, accuracy: 70), ParetoPoint(latency: 10, accuracy: 70)]), [true, true])
        XCTAssertEqual(Pareto.front([]), [])
    }

    func testAccuracyLatencyTable() throws {
        let csv = """
            model,form,resolution,batch,threads,params_m,gmacs,median_ms,noisy,error
            c,inference,224,1,1,3.0,0.3,25,no,
            a,inference,224,1,1,1.0,0.1,10,no,
            b,inference,224,1,1,2.0,0.2,20,yes,
            unpublished,inference,224,1,1,5.0,0.5,5,no,
            hires,inference,224,1,1,4.0,0.4,8,no,
            broken,inference,224,1,1,,,,,failed to build

            """
        let published: [String: PublishedTop1] = [
            "a": PublishedTop1(top1: 70, source: "paper A"), "b": PublishedTop1(top1: 75, source: "paper B"),
            "c": PublishedTop1(top1: 72, source: "paper C", resolution: 224), "hires": PublishedTop1(top1: 90, source: "paper H", resolution: 256),
            "broken": PublishedTop1(top1: 99, source: "paper X"),
        ]
        let md = try MarkdownReport(sections: [.accuracy], published: { published[$0] }).render(try ResultTable(csv: csv, source: "acc.csv"))
        XCTAssertTrue(md.contains("""
            All: form inference, batch 1, threads 1.

            | model | resolution | params (M) | GMACs | top-1 (%) | source | median (ms) | Pareto |
            |---|---:|---:|---:|---:|---|---:|---|
            | unpublished | 224 | 5.0 | 0.5 | — |  | 5.000 | — |
            | hires | 224 | 4.0 | 0.4 | — | published at 256 px: paper H | 8.000 | — |
            | a | 224 | 1.0 | 0.1 | 70.0 | paper A | 10.00 | **yes** |
            | b | 224 | 2.0 | 0.2 | 75.0 | paper B | ~20.00 | **yes** |
            | c | 224 | 3.0 | 0.3 | 72.0 | paper C | 25.00 | no |

            """), md)
        XCTAssertFalse(md.contains("99.0"), "failed rows stay out of pivots")
        XCTAssertTrue(md.contains("## Failed configurations"), md)
        XCTAssertTrue(md.contains("| broken | inference | 224 | 1 | 1 | failed to build |"), md)

        // No lookup: no table.
        XCTAssertFalse(try MarkdownReport().render(try ResultTable(csv: csv, source: "acc.csv")).contains("Accuracy"))
    }

    func testRawTableLeavesOutSamplesAndEmptyColumns() throws {
        let table = try ResultTable(csv: mixersCSV, source: "small.csv")
        let md = try MarkdownReport(sections: [.raw]).render(table)
        XCTAssertTrue(md.contains("""
            ## All measurements

            Per-run samples (`samples_ms`) are in the CSV.

            | model | mixer | form | resolution | batch | threads | pinning | backend | median_ms | noisy |
            |---|---|---|---|---|---|---|---|---|---|
            | metaformer_s12:pooling | pooling | inference | 224 | 1 | 1 | compact | packed | 10.0 | no |

            """), md)
        XCTAssertFalse(md.contains("out of memory | big"), "the failed row is listed (escaped) apart, not in the raw table")
    }

    func testSummaryNamesTheMachineAndCommit() throws {
        let csv = "model,median_ms,cpu,commit,error\na,1,Neoverse-V2,abc123,\nb,2,Neoverse-V2,abc123,\n"
        let md = try MarkdownReport(title: "Mixers").render(try ResultTable(csv: csv, source: "m.csv"))
        XCTAssertTrue(md.hasPrefix("# Mixers\n\n2 configurations measured.\n- cpu: `Neoverse-V2`\n- commit: `abc123`\n"), md)
    }

    // MARK: Several files, machines and resolutions

    func testMergedTablesUnionColumnsByName() throws {
        let a = try ResultTable(csv: "model,median_ms,machine_id\nx,1,m1\ny,2,m1\n", source: "a.csv")
        let b = try ResultTable(csv: "machine_id,model,cpu,median_ms\nm2,x,Zen,3\n", source: "b.csv")
        let m = try ResultTable.merged([a, b])
        XCTAssertEqual(m.header, ["model", "median_ms", "machine_id", "cpu"])
        XCTAssertEqual(m.rows, [["x", "1", "m1", ""], ["y", "2", "m1", ""], ["x", "3", "m2", "Zen"]])
        XCTAssertEqual(m.lines, [2, 3, 2], "each row keeps its line in its own file")
        XCTAssertEqual(m.source, "a.csv, b.csv")
        XCTAssertEqual(try ResultTable.merged([a]), a)
        XCTAssertEqual(try ResultTable.merged([a]).source, "a.csv")
    }

    /// Two machines' files, merged: one row per configuration, one column per machine.
    static let twoMachines = [
        """
        model,form,resolution,batch,threads,backend,machine_id,cpu,median_ms,noisy
        fastvit_t8,inference,256,1,1,packed,epyc-1,AMD EPYC 9R14,10,no
        mobileone_s0,inference,224,1,1,packed,epyc-1,AMD EPYC 9R14,4,no
        levit_128s,inference,224,1,1,packed,epyc-1,AMD EPYC 9R14,3,no

        """,
        """
        model,form,resolution,batch,threads,backend,machine_id,cpu,median_ms,noisy
        fastvit_t8,inference,256,1,1,packed,graviton-4,Neoverse-V2,15,yes
        mobileone_s0,inference,224,1,1,packed,graviton-4,Neoverse-V2,6,no

        """,
    ]

    func testMachinesPivot() throws {
        let table = try ResultTable.merged(Self.twoMachines.enumerated().map { try ResultTable(csv: $1, source: "m\($0).csv") })
        let md = try MarkdownReport(sections: [.machines]).render(table)
        XCTAssertTrue(md.contains("""
            Median latency in ms per machine (`machine_id`, with its CPU); in brackets the ratio to `epyc-1` (below 1: faster).
            All: form inference, batch 1, threads 1, backend packed.

            | model | resolution | `epyc-1` (AMD EPYC 9R14) | `graviton-4` (Neoverse-V2) |
            |---|---|---:|---:|
            | fastvit_t8 | 256 | 10.00 | ~15.00 (1.50×) |
            | mobileone_s0 | 224 | 4.000 | 6.000 (1.50×) |
            | levit_128s | 224 | 3.000 | — |

            """), md)
        let relative = try MarkdownReport(sections: [.machines], baselineMachine: "graviton-4").render(table)
        XCTAssertTrue(relative.contains("| fastvit_t8 | 256 | ~10.00 (0.67×) | ~15.00 |"), relative)
        XCTAssertThrowsError(try MarkdownReport(sections: [.machines], baselineMachine: "m3").render(table)) { error in
            XCTAssertTrue("\(error)".contains("baseline machine 'm3' was not measured; measured: epyc-1, graviton-4"), "\(error)")
        }
        // Under `all`: there with two machines, not with one.
        XCTAssertTrue(try MarkdownReport().render(table).contains("## Machines"))
        let one = try ResultTable(csv: Self.twoMachines[0], source: "one.csv")
        XCTAssertFalse(try MarkdownReport().render(one).contains("## Machines"))
        XCTAssertTrue(try MarkdownReport(sections: [.machines]).render(one).contains("_No machines pivot: every configuration was measured on one machine"))
        XCTAssertThrowsError(try MarkdownReport(sections: [.machines]).render(try ResultTable(csv: "model,median_ms\na,1\n", source: "n.csv")))
    }

    /// The same configuration on two machines is two configurations, not two repetitions: the
    /// other pivots keep the machines apart.
    func testOtherPivotsKeepMachinesApart() throws {
        let csv = """
            model,mixer,resolution,machine_id,median_ms
            s:pooling,pooling,224,m1,10
            s:repmixer,repmixer,224,m1,8
            s:pooling,pooling,224,m2,30
            s:repmixer,repmixer,224,m2,33

            """
        let md = try MarkdownReport(sections: [.mixers]).render(try ResultTable(csv: csv, source: "mm.csv"))
        XCTAssertTrue(md.contains("### machine_id m1\n"), md)
        XCTAssertTrue(md.contains("| repmixer | 0.80× |"), md)
        XCTAssertTrue(md.contains("| repmixer | 1.10× |"), md)
        XCTAssertTrue(md.hasPrefix("# Results: mm.csv\n\n4 configurations measured."), md)
    }

    func testResolutionsPivot() throws {
        let csv = """
            model,mixer,form,resolution,batch,threads,median_ms,noisy
            fastvit_t8,,inference,1024,1,1,160,no
            fastvit_t8,,inference,256,1,1,10,no
            fastvit_t8,,inference,512,1,1,40,yes
            levit_128s,,inference,224,1,1,3,no
            levit_128s,,inference,512,1,1,20,no
            mobileone_s0,,inference,224,1,1,4,no
            s:pooling,pooling,inference,224,1,1,5,no
            s:pooling,pooling,inference,512,1,1,25,no
            s:repmixer,repmixer,inference,224,1,1,6,no
            s:repmixer,repmixer,inference,512,1,1,24,no

            """
        let table = try ResultTable(csv: csv, source: "r.csv")
        // Asked for: every configuration at two or more resolutions, resolutions ascending as numbers.
        let md = try MarkdownReport(sections: [.resolutions]).render(table)
        XCTAssertTrue(md.contains("""
            All: form inference, batch 1, threads 1.

            | model | 224 | 256 | 512 | 1024 |
            |---|---:|---:|---:|---:|
            | fastvit_t8 | — | 10.00 | ~40.00 | 160.0 |
            | levit_128s | 3.000 | — | 20.00 | — |
            | s:pooling | 5.000 | — | 25.00 | — |
            | s:repmixer | 6.000 | — | 24.00 | — |

            """), md)
        XCTAssertFalse(md.contains("mobileone_s0"), "one resolution: not in the pivot")
        // Under `all`: the mixers the token-mixer table shows are left out of it.
        let auto = try MarkdownReport().render(table)
        XCTAssertTrue(auto.contains("## Resolutions"), auto)
        XCTAssertTrue(auto.contains("| levit_128s | 3.000 | — | 20.00 | — |"), auto)
        let section = auto.components(separatedBy: "## Resolutions")[1].components(separatedBy: "\n## ")[0]
        XCTAssertTrue(section.contains("fastvit_t8"), section)
        XCTAssertFalse(section.contains("s:pooling"), section)
        // Only the mixer skeleton at several resolutions: its table is the token-mixer one.
        let mixersOnly = table.filtered { !table.value($0, "mixer").isEmpty }
        XCTAssertFalse(try MarkdownReport().render(mixersOnly).contains("## Resolutions"))
        XCTAssertTrue(try MarkdownReport(sections: [.resolutions]).render(mixersOnly).contains("| s:pooling |"))
        XCTAssertTrue(try MarkdownReport(sections: [.resolutions]).render(table.filtered { table.value($0, "model") == "mobileone_s0" })
            .contains("_No resolutions pivot: no configuration was measured at two or more resolutions._"))
    }

    func testValidateNamesTheFile() throws {
        let bad = try ResultTable(csv: "model,resolution,median_ms\na,224,1\nb,big,2\n", source: "two.csv")
        XCTAssertThrowsError(try MarkdownReport.validate(bad)) { error in
            XCTAssertEqual("\(error)", "two.csv:3:2: resolution: 'big' is not an integer")
        }
        XCTAssertNoThrow(try MarkdownReport.validate(try ResultTable(csv: mixersCSV, source: "small.csv")))
    }
}
