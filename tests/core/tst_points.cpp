// Stroke points on the wire: the fixed-point grid, the path code (each point one varint of its
// error against the stroke's last step) and protocol 1's zig-zag deltas, still read from old walls
// (core/points.h).

#include "core/limits.h"
#include "core/points.h"
#include "proto/scrawl.pb.h"

#include <QList>
#include <QTest>

#include <google/protobuf/repeated_field.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

namespace scrawl {
// QCOMPARE prints mismatching points through this (found by argument-dependent lookup).
char *toString(const FixedPoint &p)
{
    return qstrdup(QByteArray("(" + QByteArray::number(p.x) + ", " + QByteArray::number(p.y) + ")")
                       .constData());
}
} // namespace scrawl

using scrawl::FixedPoint;
using Points = std::vector<FixedPoint>;
using Deltas = QList<qint32>;

Q_DECLARE_METATYPE(scrawl::FixedPoint)
Q_DECLARE_METATYPE(Points)

namespace {

constexpr std::int32_t kMaxFixed =
    std::int32_t(scrawl::limits::kMaxCoordinate) * scrawl::kCoordScale; // 40,000,000
constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int32_t kInt32Min = std::numeric_limits<std::int32_t>::min();

google::protobuf::RepeatedField<std::int32_t> toField(const Deltas &deltas)
{
    google::protobuf::RepeatedField<std::int32_t> field;
    for (const qint32 d : deltas)
        field.Add(d);
    return field;
}

Deltas toList(const google::protobuf::RepeatedField<std::int32_t> &field)
{
    return Deltas(field.begin(), field.end());
}

// A pen stroke as a mouse reports it: positions sampled at 60 Hz along a path in pixels.
template <typename Path> Points sampleStroke(int count, Path path)
{
    Points points;
    for (int i = 0; i < count; ++i)
        points.push_back(scrawl::toFixed(path(double(i) / 60.0)));
    return points;
}

} // namespace

class TestPoints : public QObject
{
    Q_OBJECT

private slots:
    void toFixedRounds_data();
    void toFixedRounds();
    void toPixelsIsExactOnTheGrid_data();
    void toPixelsIsExactOnTheGrid();
    void isValidCoordinate_data();
    void isValidCoordinate();
    void deltasRoundTrip_data();
    void deltasRoundTrip();
    void encodeAppends();
    void decodeRejects_data();
    void decodeRejects();
    void batchesChainOnThePreviousPoint();
    void naturalStrokeIsSmallOnTheWire_data();
    void naturalStrokeIsSmallOnTheWire();
    void pathCodesArePredictionErrors();
    void pathRoundTrip_data();
    void pathRoundTrip();
    void pathBatchesChainOnTheStrokesLastStep();
    void pathRejectsPointsOffTheWall_data();
    void pathRejectsPointsOffTheWall();
    void decodePointsReadsEitherCodeButNotBoth();
    void pacerWaitsForTheAcknowledgement_data();
    void pacerWaitsForTheAcknowledgement();
    void playoutFollowsTheLink_data();
    void playoutFollowsTheLink();
    void playoutCatchesUpAndIgnoresPauses();
};

void TestPoints::toFixedRounds_data()
{
    QTest::addColumn<QPointF>("pixels");
    QTest::addColumn<FixedPoint>("expected");

    const double max = scrawl::limits::kMaxCoordinate;
    QTest::newRow("origin") << QPointF(0, 0) << FixedPoint{0, 0};
    QTest::newRow("whole pixels") << QPointF(1, -2) << FixedPoint{4, -8};
    QTest::newRow("quarter pixels") << QPointF(0.25, -0.75) << FixedPoint{1, -3};
    // Half a grid step rounds away from zero (std::lround), symmetrically for negatives.
    QTest::newRow("half step up") << QPointF(0.125, 0.375) << FixedPoint{1, 2};
    QTest::newRow("half step negative") << QPointF(-0.125, -0.375) << FixedPoint{-1, -2};
    QTest::newRow("just below half step") << QPointF(0.124, -0.124) << FixedPoint{0, 0};
    QTest::newRow("just above half step") << QPointF(0.126, -0.126) << FixedPoint{1, -1};
    QTest::newRow("fraction") << QPointF(1234.56, -0.3) << FixedPoint{4938, -1};
    QTest::newRow("max coordinate") << QPointF(max, -max) << FixedPoint{kMaxFixed, -kMaxFixed};
    QTest::newRow("near max coordinate")
        << QPointF(max - 0.25, -(max - 0.1)) << FixedPoint{kMaxFixed - 1, -kMaxFixed};
}

void TestPoints::toFixedRounds()
{
    QFETCH(QPointF, pixels);
    QFETCH(FixedPoint, expected);
    QCOMPARE(scrawl::toFixed(pixels), expected);
}

void TestPoints::toPixelsIsExactOnTheGrid_data()
{
    QTest::addColumn<FixedPoint>("fixed");
    QTest::addColumn<QPointF>("pixels");

    const double max = scrawl::limits::kMaxCoordinate;
    QTest::newRow("origin") << FixedPoint{0, 0} << QPointF(0, 0);
    QTest::newRow("one step") << FixedPoint{1, -1} << QPointF(0.25, -0.25);
    QTest::newRow("mixed") << FixedPoint{4938, -3} << QPointF(1234.5, -0.75);
    QTest::newRow("max") << FixedPoint{kMaxFixed, -kMaxFixed} << QPointF(max, -max);
    QTest::newRow("just inside max")
        << FixedPoint{kMaxFixed - 1, 1 - kMaxFixed} << QPointF(max - 0.25, 0.25 - max);
}

void TestPoints::toPixelsIsExactOnTheGrid()
{
    QFETCH(FixedPoint, fixed);
    QFETCH(QPointF, pixels);
    const QPointF actual = scrawl::toPixels(fixed);
    // Grid positions are exact binary fractions: compare exactly, not fuzzily.
    QVERIFY(actual.x() == pixels.x());
    QVERIFY(actual.y() == pixels.y());
    QCOMPARE(scrawl::toFixed(actual), fixed);
}

void TestPoints::isValidCoordinate_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<bool>("valid");

    const double max = scrawl::limits::kMaxCoordinate;
    const double inf = std::numeric_limits<double>::infinity();
    QTest::newRow("zero") << 0.0 << true;
    QTest::newRow("negative zero") << -0.0 << true;
    QTest::newRow("smallest denormal") << std::numeric_limits<double>::denorm_min() << true;
    QTest::newRow("ordinary") << -1234.5 << true;
    QTest::newRow("max") << max << true;
    QTest::newRow("-max") << -max << true;
    QTest::newRow("just above max") << std::nextafter(max, inf) << false;
    QTest::newRow("just below -max") << std::nextafter(-max, -inf) << false;
    QTest::newRow("max + 1") << max + 1 << false;
    QTest::newRow("huge") << 1e300 << false;
    QTest::newRow("double max") << std::numeric_limits<double>::max() << false;
    QTest::newRow("+inf") << inf << false;
    QTest::newRow("-inf") << -inf << false;
    QTest::newRow("quiet NaN") << std::numeric_limits<double>::quiet_NaN() << false;
    QTest::newRow("negative NaN") << -std::numeric_limits<double>::quiet_NaN() << false;
}

void TestPoints::isValidCoordinate()
{
    QFETCH(double, value);
    QFETCH(bool, valid);
    QCOMPARE(scrawl::isValidCoordinate(value), valid);
}

void TestPoints::deltasRoundTrip_data()
{
    QTest::addColumn<Points>("points");
    QTest::addColumn<FixedPoint>("previous");
    QTest::addColumn<Deltas>("deltas"); // what encodeDeltas must produce

    const std::int32_t m = kMaxFixed;
    QTest::newRow("empty") << Points{} << FixedPoint{} << Deltas{};
    QTest::newRow("empty after a point") << Points{} << FixedPoint{7, -7} << Deltas{};
    QTest::newRow("one point at origin") << Points{{0, 0}} << FixedPoint{} << Deltas{0, 0};
    QTest::newRow("one point") << Points{{5, -3}} << FixedPoint{} << Deltas{5, -3};
    QTest::newRow("one point after previous") << Points{{5, -3}} << FixedPoint{10, 10}
                                              << Deltas{-5, -13};
    QTest::newRow("repeated point") << Points{{2, 2}, {2, 2}, {2, 2}} << FixedPoint{}
                                    << Deltas{2, 2, 0, 0, 0, 0};
    QTest::newRow("negative") << Points{{-1, -1}, {-100, 50}, {-100000, -99999}} << FixedPoint{}
                              << Deltas{-1, -1, -99, 51, -99900, -100049};
    QTest::newRow("max corner") << Points{{m, m}} << FixedPoint{} << Deltas{m, m};
    QTest::newRow("min corner") << Points{{-m, -m}} << FixedPoint{} << Deltas{-m, -m};
    // The largest jump the wall allows, corner to corner: twice the limit still fits in int32.
    QTest::newRow("corner to corner")
        << Points{{m, -m}, {-m, m}, {m, -m}} << FixedPoint{}
        << Deltas{m, -m, -2 * m, 2 * m, 2 * m, -2 * m};
    QTest::newRow("from max previous to min")
        << Points{{-m, -m}} << FixedPoint{m, m} << Deltas{-2 * m, -2 * m};
    QTest::newRow("stays on the edge")
        << Points{{m, 0}, {m, 1}, {m, 2}} << FixedPoint{m - 1, 0} << Deltas{1, 0, 0, 1, 0, 1};
}

void TestPoints::deltasRoundTrip()
{
    QFETCH(Points, points);
    QFETCH(FixedPoint, previous);
    QFETCH(Deltas, deltas);

    google::protobuf::RepeatedField<std::int32_t> encoded;
    scrawl::encodeDeltas(points, previous, &encoded);
    QCOMPARE(toList(encoded), deltas);

    Points decoded;
    const scrawl::DecodeResult result = scrawl::decodeDeltas(encoded, previous, &decoded);
    QVERIFY2(result.ok, qPrintable(result.error));
    QVERIFY(result.error.isEmpty());
    QCOMPARE(decoded, points);
}

void TestPoints::encodeAppends()
{
    // Both directions append: a StrokeBegin's field may already hold deltas, a stroke already
    // holds points.
    google::protobuf::RepeatedField<std::int32_t> encoded;
    encoded.Add(42);
    scrawl::encodeDeltas({{1, 2}, {3, 5}}, {}, &encoded);
    QCOMPARE(toList(encoded), (Deltas{42, 1, 2, 2, 3}));

    Points decoded{{9, 9}};
    const auto result = scrawl::decodeDeltas(toField({1, 2, 2, 3}), {}, &decoded);
    QVERIFY(result.ok);
    QCOMPARE(decoded, (Points{{9, 9}, {1, 2}, {3, 5}}));
}

void TestPoints::decodeRejects_data()
{
    QTest::addColumn<Deltas>("deltas");
    QTest::addColumn<FixedPoint>("previous");
    QTest::addColumn<QStringList>("errorMentions"); // each must appear in the error

    const std::int32_t m = kMaxFixed;
    const QStringList pairs{QStringLiteral("pairs")};
    const QStringList outside{QStringLiteral("outside"), QStringLiteral("max_coordinate")};

    QTest::newRow("odd: one number") << Deltas{1} << FixedPoint{}
                                     << QStringList{QStringLiteral("pairs"), QStringLiteral("1")};
    QTest::newRow("odd: three numbers")
        << Deltas{1, 2, 3} << FixedPoint{} << QStringList{QStringLiteral("pairs"), QStringLiteral("3")};
    QTest::newRow("odd: 2049 numbers") << Deltas(2049, 0) << FixedPoint{}
                                       << QStringList{QStringLiteral("pairs"),
                                                      QStringLiteral("2049")};
    QTest::newRow("x one past max") << Deltas{m + 1, 0} << FixedPoint{} << outside;
    QTest::newRow("y one past -max") << Deltas{0, -m - 1} << FixedPoint{} << outside;
    QTest::newRow("x past max from previous") << Deltas{1, 0} << FixedPoint{m, 0} << outside;
    QTest::newRow("y past -max from previous") << Deltas{0, -1} << FixedPoint{0, -m} << outside;
    QTest::newRow("second point outside")
        << Deltas{m, 0, 1, 0} << FixedPoint{} << QStringList{QStringLiteral("point 1"),
                                                             QStringLiteral("max_coordinate")};
    QTest::newRow("int32 max delta") << Deltas{kInt32Max, 0} << FixedPoint{} << outside;
    QTest::newRow("int32 min delta") << Deltas{0, kInt32Min} << FixedPoint{} << outside;
    // In 32-bit arithmetic these sums wrap around to points that look valid: (0,0), (-2,0).
    QTest::newRow("wraps to origin in int32")
        << Deltas{kInt32Max, 0, kInt32Max, 0, 2, 0} << FixedPoint{} << outside;
    QTest::newRow("wraps from previous in int32")
        << Deltas{kInt32Max, kInt32Max} << FixedPoint{m, m} << outside;
    QTest::newRow("min then min wraps to zero")
        << Deltas{kInt32Min, 0, kInt32Min, 0} << FixedPoint{} << outside;
}

void TestPoints::decodeRejects()
{
    QFETCH(Deltas, deltas);
    QFETCH(FixedPoint, previous);
    QFETCH(QStringList, errorMentions);

    const Points before{{1, 1}, {2, 2}};
    Points out = before;
    const scrawl::DecodeResult result = scrawl::decodeDeltas(toField(deltas), previous, &out);
    QVERIFY(!result.ok);
    for (const QString &word : errorMentions)
        QVERIFY2(result.error.contains(word), qPrintable(result.error));
    QCOMPARE(out, before); // a refused batch leaves the stroke as it was
}

void TestPoints::batchesChainOnThePreviousPoint()
{
    // A stroke sent in three batches: each batch is relative to the last point of the one before.
    const Points whole = sampleStroke(30, [](double t) {
        return QPointF(500 + 300 * t, -200 + 80 * std::sin(6 * t));
    });
    const Points parts[] = {Points(whole.begin(), whole.begin() + 1),
                            Points(whole.begin() + 1, whole.begin() + 17),
                            Points(whole.begin() + 17, whole.end())};

    Points decoded;
    FixedPoint previous;
    for (const Points &part : parts) {
        google::protobuf::RepeatedField<std::int32_t> batch;
        scrawl::encodeDeltas(part, previous, &batch);
        QCOMPARE(batch.size(), int(part.size()) * 2);
        const auto result = scrawl::decodeDeltas(batch, decoded.empty() ? FixedPoint{} : decoded.back(),
                                                 &decoded);
        QVERIFY2(result.ok, qPrintable(result.error));
        previous = part.back();
    }
    QCOMPARE(decoded, whole);

    // Decoding the last batch against the wrong base shifts every point by that base.
    google::protobuf::RepeatedField<std::int32_t> last;
    scrawl::encodeDeltas(parts[2], parts[1].back(), &last);
    Points shifted;
    QVERIFY(scrawl::decodeDeltas(last, {}, &shifted).ok);
    QCOMPARE(shifted.size(), parts[2].size());
    QCOMPARE(shifted.front(), (FixedPoint{parts[2].front().x - parts[1].back().x,
                                          parts[2].front().y - parts[1].back().y}));
}

void TestPoints::naturalStrokeIsSmallOnTheWire_data()
{
    QTest::addColumn<Points>("stroke");

    using std::numbers::pi;
    // 100 samples at 60 Hz (1.65 s) far from the origin, so the first delta costs its full size.
    QTest::newRow("arc at 400 px/s") << sampleStroke(100, [](double t) {
        const double r = 250, a = 400 * t / r;
        return QPointF(3000 + r * std::cos(a), -1800 + r * std::sin(a));
    });
    QTest::newRow("handwriting loops") << sampleStroke(100, [](double t) {
        return QPointF(1200 + 120 * t + 25 * std::cos(2 * pi * 3 * t),
                       800 + 35 * std::sin(2 * pi * 3 * t) + 10 * std::sin(2 * pi * 0.7 * t));
    });
    QTest::newRow("quick sine flourish") << sampleStroke(100, [](double t) {
        return QPointF(-4000 + 700 * t, 2500 + 150 * std::sin(2 * pi * 1.5 * t));
    });
}

void TestPoints::naturalStrokeIsSmallOnTheWire()
{
    QFETCH(Points, stroke);
    QCOMPARE(stroke.size(), size_t(100));

    scrawl::pb::StrokePoints message;
    message.set_id(12345);
    scrawl::encodePoints(stroke, {}, &message);
    const std::string bytes = message.SerializeAsString();

    // The bytes carry the stroke: parse them back and compare.
    scrawl::pb::StrokePoints parsed;
    QVERIFY(parsed.ParseFromString(bytes));
    Points decoded;
    QVERIFY(scrawl::decodePoints(parsed, {}, &decoded).ok);
    QCOMPARE(decoded, stroke);

    // Protocol 1's deltas for comparison: the path code never takes more. (At 60 Hz a quick
    // hand turns between samples, so the prediction saves less than at a tablet's 200 Hz.)
    scrawl::pb::StrokePoints old;
    old.set_id(12345);
    scrawl::encodeDeltas(stroke, {}, old.mutable_points());
    const size_t oldBytes = old.ByteSizeLong();

    const double perPoint = double(bytes.size()) / double(stroke.size());
    qInfo("%s: %zu bytes for %zu points = %.2f bytes/point (protocol 1's deltas: %.2f)",
          QTest::currentDataTag(), bytes.size(), stroke.size(), perPoint,
          double(oldBytes) / double(stroke.size()));
    QVERIFY2(perPoint <= 2.1, qPrintable(QStringLiteral("%1 bytes per point").arg(perPoint)));
    QVERIFY2(bytes.size() <= oldBytes, qPrintable(QStringLiteral("%1 vs %2").arg(bytes.size()).arg(oldBytes)));
}

void TestPoints::pathCodesArePredictionErrors()
{
    // The first point is measured from the origin, the second from the first (no step yet), then
    // each point against the last point plus the step that led to it. The error's x is zig-zagged
    // (0 -> 0, -1 -> 1, 1 -> 2, ...) into the even bits, its y into the odd bits.
    const Points points{{1, 0}, {2, 0}, {3, 0}, {4, 1}, {4, 3}, {-1, -1}};
    google::protobuf::RepeatedField<std::uint64_t> path;
    scrawl::encodePath(points, {}, &path);
    const QList<quint64> expected{
        0b100,      // (1, 0) from the origin: error (1, 0), x 1 -> 2 -> even bit 1 -> bit 2
        0b100,      // (2, 0) from (1, 0): error (1, 0)
        0,          // (3, 0) as predicted by the step (1, 0)
        0b1000,     // (4, 1) against (4, 0): y 1 -> 2 -> odd bit 1 -> bit 3
        0b1001,     // (4, 3) against (5, 2): x -1 -> 1 -> bit 0; y 1 -> 2 -> bit 3
        0b11001011, // (-1, -1) against (4, 5): x -5 -> 9 = 0b1001, y -6 -> 11 = 0b1011
    };
    QCOMPARE(QList<quint64>(path.begin(), path.end()), expected);
    Points decoded;
    QVERIFY(scrawl::decodePath(path, {}, &decoded).ok);
    QCOMPARE(decoded, points);
}

void TestPoints::pathRoundTrip_data()
{
    QTest::addColumn<Points>("points");
    QTest::addColumn<Points>("before"); // the stroke so far

    QTest::newRow("empty") << Points{} << Points{};
    QTest::newRow("one point") << Points{{-7, 9}} << Points{};
    QTest::newRow("after one point") << Points{{-7, 9}, {0, 0}} << Points{{5, 5}};
    QTest::newRow("standing still") << Points(5, FixedPoint{3, 3}) << Points{{3, 3}, {3, 3}};
    QTest::newRow("natural") << sampleStroke(50, [](double t) {
        return QPointF(100 + 300 * t, 50 * std::sin(5 * t));
    }) << Points{};
    // The biggest errors there can be: corner to corner and back, each step reversed.
    QTest::newRow("corner to corner")
        << Points{{kMaxFixed, kMaxFixed}, {-kMaxFixed, -kMaxFixed}, {kMaxFixed, kMaxFixed},
                  {-kMaxFixed, kMaxFixed}, {kMaxFixed, -kMaxFixed}}
        << Points{{-kMaxFixed, -kMaxFixed}, {kMaxFixed, kMaxFixed}};
}

void TestPoints::pathRoundTrip()
{
    QFETCH(Points, points);
    QFETCH(Points, before);
    google::protobuf::RepeatedField<std::uint64_t> path;
    scrawl::encodePath(points, scrawl::tailOf(before), &path);
    QCOMPARE(path.size(), int(points.size()));
    Points decoded = before;
    const scrawl::DecodeResult r = scrawl::decodePath(path, scrawl::tailOf(before), &decoded);
    QVERIFY2(r.ok, qPrintable(r.error));
    QCOMPARE(Points(decoded.begin() + long(before.size()), decoded.end()), points);
}

void TestPoints::pathBatchesChainOnTheStrokesLastStep()
{
    // A stroke sent in batches as the app sends it: each continues from tailOf the points sent.
    const Points whole = sampleStroke(40, [](double t) {
        return QPointF(-300 + 250 * t, 700 + 90 * std::cos(4 * t));
    });
    const size_t cuts[] = {0, 1, 2, 9, 40};
    google::protobuf::RepeatedField<std::uint64_t> oneGo;
    scrawl::encodePath(whole, {}, &oneGo);
    Points decoded;
    QList<quint64> codes;
    for (size_t k = 0; k + 1 < std::size(cuts); ++k) {
        const Points part(whole.begin() + long(cuts[k]), whole.begin() + long(cuts[k + 1]));
        google::protobuf::RepeatedField<std::uint64_t> batch;
        scrawl::encodePath(part, scrawl::tailOf(whole, cuts[k]), &batch);
        const auto r = scrawl::decodePath(batch, scrawl::tailOf(decoded), &decoded);
        QVERIFY2(r.ok, qPrintable(r.error));
        codes.append(QList<quint64>(batch.begin(), batch.end()));
    }
    QCOMPARE(decoded, whole);
    // Cutting a stroke into batches changes no code: the receiver predicts as the sender did.
    QCOMPARE(codes, QList<quint64>(oneGo.begin(), oneGo.end()));

    // A batch decoded against the wrong stroke goes somewhere else.
    google::protobuf::RepeatedField<std::uint64_t> last;
    scrawl::encodePath({whole.begin() + 9, whole.end()}, scrawl::tailOf(whole, 9), &last);
    Points elsewhere;
    QVERIFY(scrawl::decodePath(last, {}, &elsewhere).ok);
    QVERIFY(elsewhere.front() != whole[9]);
}

void TestPoints::pathRejectsPointsOffTheWall_data()
{
    QTest::addColumn<Points>("before");
    QTest::addColumn<QList<quint64>>("path");
    QTest::addColumn<int>("badIndex");

    // x error +1 past the edge: zig-zag 2 -> code 0b100.
    QTest::newRow("one past the edge") << Points{{kMaxFixed, 0}} << QList<quint64>{0b100} << 0;
    // The step carries on past the edge when the error does not stop it.
    QTest::newRow("the step runs off")
        << Points{{kMaxFixed - 2, 0}, {kMaxFixed - 1, 0}} << QList<quint64>{0, 0} << 1;
    QTest::newRow("every bit set") << Points{} << QList<quint64>{~quint64(0)} << 0;
    QTest::newRow("after good points") << Points{} << QList<quint64>{0b100, 0, 0b100, ~quint64(0) >> 1}
                                       << 3;
}

void TestPoints::pathRejectsPointsOffTheWall()
{
    QFETCH(Points, before);
    QFETCH(QList<quint64>, path);
    QFETCH(int, badIndex);
    google::protobuf::RepeatedField<std::uint64_t> field;
    for (const quint64 c : path)
        field.Add(c);
    Points out = before;
    const scrawl::DecodeResult r = scrawl::decodePath(field, scrawl::tailOf(before), &out);
    QVERIFY(!r.ok);
    QVERIFY(r.outOfRange);
    QVERIFY2(r.error.contains(QLatin1String(scrawl::limits::kMaxCoordinateName)), qPrintable(r.error));
    QVERIFY2(r.error.contains(QStringLiteral("point %1 ").arg(badIndex)), qPrintable(r.error));
    QCOMPARE(out, before); // nothing of a refused batch is kept
}

void TestPoints::decodePointsReadsEitherCodeButNotBoth()
{
    const Points before{{10, 10}, {12, 11}};
    const Points more{{14, 12}, {17, 12}};
    // Protocol 1's deltas, as walls stored before protocol 2 hold them: from the last point.
    scrawl::pb::StrokePoints old;
    scrawl::encodeDeltas(more, before.back(), old.mutable_points());
    Points fromOld;
    QVERIFY(scrawl::decodePoints(old, scrawl::tailOf(before), &fromOld).ok);
    QCOMPARE(fromOld, more);
    QCOMPARE(scrawl::pointCount(old), 2);

    scrawl::pb::StrokePoints now;
    scrawl::encodePoints(more, scrawl::tailOf(before), &now);
    QCOMPARE(now.points_size(), 0);
    QCOMPARE(scrawl::pointCount(now), 2);
    Points fromNow;
    QVERIFY(scrawl::decodePoints(now, scrawl::tailOf(before), &fromNow).ok);
    QCOMPARE(fromNow, more);

    scrawl::pb::StrokePoints both = now;
    both.mutable_points()->CopyFrom(old.points());
    Points none;
    const scrawl::DecodeResult r = scrawl::decodePoints(both, scrawl::tailOf(before), &none);
    QVERIFY(!r.ok);
    QVERIFY(!r.outOfRange);
    QVERIFY2(r.error.contains(QLatin1String("one or the other")), qPrintable(r.error));
    QVERIFY(none.empty());
}

void TestPoints::pacerWaitsForTheAcknowledgement_data()
{
    QTest::addColumn<bool>("acknowledged");
    QTest::addColumn<qint64>("waitingSince"); // the batch left at 1000
    QTest::addColumn<qint64>("due");
    using namespace scrawl;
    const qint64 cap = limits::kStrokeAckWaitCapMs;
    // Nothing in flight: at once, but not twice within a frame.
    QTest::newRow("acked, a frame later") << true << qint64(1000 + kStrokeFrameMs + 5)
                                          << qint64(1000 + kStrokeFrameMs + 5);
    QTest::newRow("acked, within the frame") << true << qint64(1003) << qint64(1000 + kStrokeFrameMs);
    // In flight: until the acknowledgement, or the cap.
    QTest::newRow("in flight") << false << qint64(1003) << qint64(1003 + cap);
    QTest::newRow("in flight long") << false << qint64(5000) << qint64(5000 + cap);
}

void TestPoints::pacerWaitsForTheAcknowledgement()
{
    QFETCH(bool, acknowledged);
    QFETCH(qint64, waitingSince);
    QFETCH(qint64, due);
    scrawl::StrokePacer pacer;
    QVERIFY(!pacer.inFlight());
    QCOMPARE(pacer.dueMs(waitingSince), waitingSince); // nothing sent yet: at once
    pacer.sent(7, 1000);
    QVERIFY(pacer.inFlight());
    pacer.acknowledged(6); // an older batch's acknowledgement leaves the newest in flight
    QVERIFY(pacer.inFlight());
    if (acknowledged)
        pacer.acknowledged(7);
    QCOMPARE(pacer.inFlight(), !acknowledged);
    QCOMPARE(pacer.dueMs(waitingSince), due);
}

// Batches of `perBatch` points arriving `everyMs` apart are played out over the interval the
// receiver has seen: each is about half drawn half way to the next and all drawn by then; the
// first point of a batch that finds nothing waiting shows at once.
void TestPoints::playoutFollowsTheLink_data()
{
    QTest::addColumn<int>("everyMs");
    QTest::addColumn<int>("perBatch");
    QTest::newRow("loopback: a frame apart") << scrawl::kStrokeFrameMs << 3;
    QTest::newRow("100 ms round trip") << 100 << 20;
    QTest::newRow("slower than the longest playout") << 250 << 50;
}

void TestPoints::playoutFollowsTheLink()
{
    QFETCH(int, everyMs);
    QFETCH(int, perBatch);
    scrawl::InkPlayout playout;
    double interval = scrawl::kStrokeFrameMs;
    size_t total = 1; // the StrokeBegin's point
    QVERIFY(playout.arrived(0, 0, total, &interval));
    QCOMPARE(playout.shown(), size_t(1));
    std::int64_t now = 0;
    size_t shownBefore = playout.shown();
    for (int batch = 0; batch < 24; ++batch) {
        now += everyMs;
        const size_t first = total;
        total += size_t(perBatch);
        playout.arrived(now, first, total, &interval);
        QVERIFY(playout.shown() >= shownBefore);
        if (batch < 12)
            continue; // the interval settles
        // Half way to the next batch: about half of this one is drawn, not all of it (unless the
        // link is slower than the longest playout).
        const size_t half = playout.advance(now + everyMs / 2, total);
        const double part = double(half - first) / perBatch;
        if (everyMs <= scrawl::kMaxPlayoutMs) {
            QVERIFY2(part > 0.3 && part < 0.8, qPrintable(QString::number(part)));
        } else {
            QVERIFY2(part > 0.6 && part < 1.0, qPrintable(QString::number(part)));
        }
        // All of it by the time the next one comes.
        QCOMPARE(playout.advance(now + everyMs, total), total);
        shownBefore = playout.shown();
    }
    QVERIFY2(std::abs(interval - std::min(double(everyMs), scrawl::kMaxPlayoutMs)) < 2,
             qPrintable(QString::number(interval)));
}

// A batch that comes late, then one right behind it: both are drawn within one interval of the
// second (no growing lag). The pen resting for a second does not stretch the interval.
void TestPoints::playoutCatchesUpAndIgnoresPauses()
{
    scrawl::InkPlayout playout;
    double interval = scrawl::kStrokeFrameMs;
    size_t total = 1;
    playout.arrived(0, 0, total, &interval);
    std::int64_t now = 0;
    for (int i = 0; i < 10; ++i) { // a 50 ms link
        now += 50;
        playout.arrived(now, total, total + 10, &interval);
        total += 10;
    }
    QVERIFY(std::abs(interval - 50) < 3);
    // Late: 120 ms, a batch it had no time to draw, and another 2 ms later.
    now += 120;
    playout.arrived(now, total, total + 10, &interval);
    total += 10;
    playout.advance(now + 1, total);
    now += 2;
    playout.arrived(now, total, total + 10, &interval);
    total += 10;
    QVERIFY(playout.shown() < total - 10);
    QCOMPARE(playout.advance(now + std::int64_t(interval) + 1, total), total);
    // Resting a second, then drawing on: the interval is the link's, not the pause.
    const double before = interval;
    now += 1000 + std::int64_t(interval);
    QVERIFY(playout.arrived(now, total, total + 10, &interval)); // nothing waiting: starts now
    QCOMPARE(interval, before);
    QCOMPARE(playout.shown(), total + 1);
}

QTEST_GUILESS_MAIN(TestPoints)
#include "tst_points.moc"
