// The desktop integration files in resources/: the .desktop entry names the installed binary
// and icon and has the keys desktop environments need; the SVG icon renders at launcher sizes,
// and the same icon is compiled into the app (window icon, start screen).

#include <QFile>
#include <QIcon>
#include <QImage>
#include <QPainter>
#include <QSettings>
#include <QSvgRenderer>
#include <QTest>

class TestResources : public QObject
{
    Q_OBJECT

    static QString path(const char *name)
    {
        return QStringLiteral(SCRAWL_SOURCE_DIR "/resources/") + QLatin1String(name);
    }

private slots:
    void desktopEntry()
    {
        QFile f(path("scrawl.desktop"));
        QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
        QMap<QString, QString> keys;
        const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'));
        QCOMPARE(lines.first(), QStringLiteral("[Desktop Entry]"));
        for (const QString &l : lines) {
            const int eq = l.indexOf(QLatin1Char('='));
            if (eq > 0)
                keys.insert(l.left(eq), l.mid(eq + 1));
        }
        QCOMPARE(keys.value("Type"), QStringLiteral("Application"));
        QCOMPARE(keys.value("Name"), QStringLiteral("Scrawl"));
        QCOMPARE(keys.value("Exec").section(QLatin1Char(' '), 0, 0), QStringLiteral("scrawl")); // app/CMakeLists installs bin/scrawl
        QCOMPARE(keys.value("Icon"), QStringLiteral("scrawl")); // installed as hicolor/scalable/apps/scrawl.svg
        QVERIFY(!keys.value("Comment").isEmpty());
        QVERIFY(keys.value("Categories").endsWith(QLatin1Char(';')));
        QCOMPARE(keys.value("Terminal"), QStringLiteral("false"));
    }

    void iconRendersAtLauncherSizes_data()
    {
        QTest::addColumn<int>("size");
        QTest::newRow("16") << 16;
        QTest::newRow("48") << 48;
        QTest::newRow("256") << 256;
    }
    void iconRendersAtLauncherSizes()
    {
        QFETCH(int, size);
        QSvgRenderer svg(path("scrawl.svg"));
        QVERIFY(svg.isValid());
        QCOMPARE(svg.defaultSize(), QSize(256, 256)); // square
        QImage img(size, size, QImage::Format_ARGB32_Premultiplied);
        img.fill(Qt::transparent);
        QPainter p(&img);
        svg.render(&p);
        p.end();
        // Opaque in the middle, transparent in the corner (rounded square).
        QCOMPARE(qAlpha(img.pixel(size / 2, size / 2)), 255);
        QCOMPARE(qAlpha(img.pixel(0, 0)), 0);
    }

    void iconIsCompiledIntoTheApp()
    {
        QIcon icon(QStringLiteral(":/qt/qml/Scrawl/scrawl.svg"));
        QVERIFY(!icon.isNull());
        QVERIFY(!icon.pixmap(64, 64).isNull());
    }
};

QTEST_MAIN(TestResources)
#include "tst_resources.moc"
