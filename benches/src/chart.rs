//! The SVG chart of `quiver bench --svg`: one horizontal bar per query.
//!
//! With a peer engine each bar is Quiver's median over the peer's (a line marks parity at
//! 1; green bars are queries Quiver wins, red ones it loses), which is the figure
//! `BENCHMARKS.md` quotes; without one each bar is Quiver's median in milliseconds. It is
//! drawn with plotters' SVG backend only, so no fonts or image codecs are linked: the SVG
//! names a generic sans-serif font and the viewer renders the text.

use std::path::Path;

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::{
    ChartBuilder, IntoDrawingArea, PathElement, RGBColor, Rectangle, SVGBackend, Text, BLACK, WHITE,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, IntoFont, TextStyle};

use crate::runner::Report;

/// Fill of a bar Quiver wins (ratio below 1) or that has no peer to compare with.
pub const WIN_COLOR: RGBColor = RGBColor(0x2e, 0x8b, 0x57);
/// Fill of a bar Quiver loses (ratio of 1 or more).
pub const LOSS_COLOR: RGBColor = RGBColor(0xc0, 0x39, 0x2b);

/// Stroke of the vertical line at parity.
pub const PARITY_COLOR: RGBColor = RGBColor(0x44, 0x44, 0x44);

/// A bar chart: one labelled value per bar, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    /// What the values are ("Quiver / DataFusion").
    pub axis: String,
    pub bars: Vec<(String, f64)>,
    /// A value drawn as a vertical line; bars below it are wins, at or above it losses.
    pub parity: Option<f64>,
}

impl BarChart {
    /// The chart of a report: ratios to the peer when it has one, else Quiver's medians.
    pub fn from_report(report: &Report) -> BarChart {
        let heading = format!("{}, {}", report.workload.title(), report.size);
        match &report.peer {
            Some(peer) => {
                let peer_name = peer.split(',').next().unwrap_or(peer);
                let mut title = format!("{heading}: Quiver / {peer_name}");
                if let Some(mean) = report.geometric_mean() {
                    title.push_str(&format!(" (geometric mean {mean:.2})"));
                }
                BarChart {
                    title,
                    axis: format!("Quiver median / {peer_name} median (lower is better)"),
                    bars: report
                        .queries
                        .iter()
                        .map(|query| (query.name.clone(), query.ratio().unwrap_or(0.0)))
                        .collect(),
                    parity: Some(1.0),
                }
            }
            None => BarChart {
                title: format!("{heading}: Quiver"),
                axis: "Quiver median (ms)".into(),
                bars: report
                    .queries
                    .iter()
                    .map(|query| (query.name.clone(), query.quiver.median.as_secs_f64() * 1e3))
                    .collect(),
                parity: None,
            },
        }
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        let rows = self.bars.len().max(1) as u32;
        let height = 120 + 36 * rows;
        {
            let root = SVGBackend::with_string(&mut svg, (800, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let largest = self
                .bars
                .iter()
                .map(|(_, value)| *value)
                .chain(self.parity)
                .filter(|value| value.is_finite())
                .fold(0.0_f64, f64::max);
            // Room to the right of the longest bar for its value.
            let x_end = if largest > 0.0 { largest * 1.2 } else { 1.0 };
            let label_width = self
                .bars
                .iter()
                .map(|(label, _)| label.chars().count() as u32)
                .max()
                .unwrap_or(1)
                * 8
                + 16;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 18).into_font())
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(label_width)
                .build_cartesian_2d(0.0..x_end, (0..rows).into_segmented())
                .map_err(|e| e.to_string())?;
            // Bar i is drawn in segment rows - 1 - i, so the first query is at the top.
            let labels: Vec<String> = self.bars.iter().map(|(label, _)| label.clone()).collect();
            let label_of = |value: &SegmentValue<u32>| match value {
                SegmentValue::CenterOf(segment) | SegmentValue::Exact(segment) => rows
                    .checked_sub(segment + 1)
                    .and_then(|index| labels.get(index as usize))
                    .cloned()
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(rows as usize)
                .y_label_formatter(&label_of)
                .x_desc(self.axis.as_str())
                .axis_desc_style(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
            let parity = self.parity;
            let bars = self.bars.iter().enumerate().map(|(index, (_, value))| {
                let segment = rows - 1 - index as u32;
                let color = match parity {
                    Some(parity) if *value >= parity => LOSS_COLOR,
                    _ => WIN_COLOR,
                };
                let value = if value.is_finite() { *value } else { 0.0 };
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(segment)),
                        (value, SegmentValue::Exact(segment + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(6, 6, 0, 0);
                bar
            });
            chart.draw_series(bars).map_err(|e| e.to_string())?;
            let style = TextStyle::from(("sans-serif", 13).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let values = self.bars.iter().enumerate().map(|(index, (_, value))| {
                let segment = rows - 1 - index as u32;
                let text = if parity.is_some() {
                    format!(" {value:.2}")
                } else {
                    format!(" {value:.3}")
                };
                let x = if value.is_finite() { *value } else { 0.0 };
                Text::new(text, (x, SegmentValue::CenterOf(segment)), style.clone())
            });
            chart.draw_series(values).map_err(|e| e.to_string())?;
            if let Some(parity) = parity {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![
                            (parity, SegmentValue::Exact(0)),
                            (parity, SegmentValue::Exact(rows)),
                        ],
                        PARITY_COLOR.stroke_width(2),
                    )))
                    .map_err(|e| e.to_string())?;
            }
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    /// Writes the chart to `path` as SVG.
    pub fn write_svg(&self, path: &Path) -> Result<(), String> {
        let svg = self.to_svg()?;
        std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `fill` colour of every `<rect>` in `svg`.
    fn rect_fills(svg: &str) -> Vec<String> {
        svg.split("<rect")
            .skip(1)
            .map(|rect| {
                let fill = rect.split("fill=\"").nth(1).unwrap_or_default();
                fill.split('"').next().unwrap_or_default().to_uppercase()
            })
            .collect()
    }

    /// The content of every `<text>` element in `svg` (plotters writes it on its own line).
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|text| {
                let content = text.split_once('>')?.1;
                Some(
                    content
                        .split("</text>")
                        .next()?
                        .trim_matches('\n')
                        .to_string(),
                )
            })
            .collect()
    }

    fn hex(color: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
    }

    #[test]
    fn one_bar_per_query_coloured_by_the_side_of_parity() {
        let chart = BarChart {
            title: "H2O group-by: Quiver / DataFusion".into(),
            axis: "ratio".into(),
            bars: vec![("q1".into(), 0.25), ("q2".into(), 1.5), ("q3".into(), 0.8)],
            parity: Some(1.0),
        };
        let dir = std::env::temp_dir().join(format!("quiver-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("ratios.svg");
        chart.write_svg(&path).unwrap_or_else(|e| panic!("{e}"));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        let fills = rect_fills(&svg);
        let wins = fills.iter().filter(|f| **f == hex(WIN_COLOR)).count();
        let losses = fills.iter().filter(|f| **f == hex(LOSS_COLOR)).count();
        assert_eq!((wins, losses), (2, 1), "{fills:?}");
        let texts = texts(&svg);
        for text in [
            "H2O group-by: Quiver / DataFusion",
            "q1",
            "q2",
            "q3",
            " 0.25",
            " 1.50",
            " 0.80",
        ] {
            assert!(texts.iter().any(|t| t == text), "{text} not in {texts:?}");
        }
        let parity_line = format!("stroke=\"{}\" stroke-width=\"2\"", hex(PARITY_COLOR));
        assert_eq!(svg.matches(&parity_line).count(), 1, "{svg}");
    }

    #[test]
    fn medians_without_a_peer_have_no_parity_line() {
        let chart = BarChart {
            title: "Tiny QuerySets: Quiver".into(),
            axis: "Quiver median (ms)".into(),
            bars: vec![("filter".into(), 0.031), ("get_pk".into(), 0.042)],
            parity: None,
        };
        let svg = chart.to_svg().unwrap_or_else(|e| panic!("{e}"));
        let fills = rect_fills(&svg);
        assert_eq!(
            fills.iter().filter(|f| **f == hex(WIN_COLOR)).count(),
            2,
            "{fills:?}"
        );
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "get_pk"), "{texts:?}");
        assert!(texts.iter().any(|t| t == " 0.042"), "{texts:?}");
        assert!(!svg.contains(&hex(PARITY_COLOR)), "{svg}");
    }
}
