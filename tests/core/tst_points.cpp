// Stroke points on the wire: the fixed-point grid and the zig-zag delta codec (core/points.h).

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
    scrawl::encodeDeltas(stroke, {}, message.mutable_points());
    const std::string bytes = message.SerializeAsString();

    // The bytes carry the stroke: parse them back and compare.
    scrawl::pb::StrokePoints parsed;
    QVERIFY(parsed.ParseFromString(bytes));
    Points decoded;
    QVERIFY(scrawl::decodeDeltas(parsed.points(), {}, &decoded).ok);
    QCOMPARE(decoded, stroke);

    const double perPoint = double(bytes.size()) / double(stroke.size());
    qInfo("%s: %zu bytes for %zu points = %.2f bytes/point", QTest::currentDataTag(), bytes.size(),
          stroke.size(), perPoint);
    QVERIFY2(perPoint <= 3.0, qPrintable(QStringLiteral("%1 bytes per point").arg(perPoint)));
}

QTEST_GUILESS_MAIN(TestPoints)
#include "tst_points.moc"
