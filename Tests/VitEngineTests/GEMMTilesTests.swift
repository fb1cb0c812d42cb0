import XCTest
@testable import VitEngine

/// The split of a constant-weight product into tasks partitions its output, keeps column blocks
/// on whole micro-kernel tiles, and gives every worker work when rows are few.
final class GEMMTilesTests: XCTestCase {
    func testTasksPartitionTheOutput() {
        for (rows, n, threads) in [(1, 3, 1), (16, 384, 2), (49, 200, 3), (197, 144, 2), (1000, 33, 4), (5, 1000, 16), (96, 32, 2), (197, 768, 1), (3136, 64, 1), (50000, 16, 1), (784, 448, 1), (196, 896, 2), (143, 64, 1), (239, 64, 1), (240, 64, 1), (200, 48, 1), (4096, 144, 2), (4096, 48, 2)] {
            let tiles = GEMMTiles(rows: rows, columns: n, threads: threads)
            var covered = [Int](repeating: 0, count: rows * n)
            for t in 0..<tiles.count {
                let (r0, m, c0, cols) = tiles[t]
                XCTAssertEqual(c0 % 32, 0, "column blocks start on 32-column tiles")
                XCTAssertTrue(m > 0 && cols > 0)
                for r in r0..<(r0 + m) { for c in c0..<(c0 + cols) { covered[r * n + c] += 1 } }
            }
            XCTAssertEqual(covered, [Int](repeating: 1, count: rows * n), "rows \(rows) n \(n) threads \(threads)")
            // One worker, or rows enough for every worker: whole rows of the output, one call each.
            if threads == 1 || rows >= 96 * 4 * threads { XCTAssertEqual(tiles.columnBlocks, 1, "rows \(rows) n \(n) threads \(threads)") }
            // Rows are shared evenly: no tile is a sliver that streams the weights for a few rows,
            // and none outgrows the per-worker scratch LayerNormLinear sizes by maxRowTile.
            let sizes = (0..<tiles.rowTiles).map { tiles[$0 * tiles.columnBlocks].m }
            XCTAssertLessThanOrEqual(sizes.max()!, GEMMTiles.maxRowTile)
            // Only the last tile has rows over whole micro-kernel tiles (a row-remainder kernel).
            XCTAssertTrue(sizes.dropLast().allSatisfy { $0 % GEMMTiles.rowUnit == 0 }, "rows \(rows): tiles \(sizes)")
            if rows >= GEMMTiles.targetRowTile {
                XCTAssertGreaterThanOrEqual(sizes.min()!, GEMMTiles.targetRowTile / 2, "rows \(rows): tiles \(sizes)")
            }
            if threads > 1 && rows <= 96 && n >= 32 * 4 * threads {
                XCTAssertGreaterThanOrEqual(tiles.count, 4 * threads, "few rows: columns are split too")
            }
        }
    }
}
