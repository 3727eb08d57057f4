//! Automatic balanced layout of a mind map: the central topic in the middle, its branches
//! split left and right so both sides are about as tall, each subtree stacked around its
//! parent. Pure geometry, so it is tested natively and shared by the web app and exports.

use std::collections::HashMap;

use crate::doc::{CENTRAL_NODE_ID, Node, Tree};

/// Horizontal gap between a node and its children.
pub const GAP_X_PX: f64 = 48.0;
/// Vertical gap between sibling subtrees.
pub const GAP_Y_PX: f64 = 12.0;
const CHAR_WIDTH_PX: f64 = 8.2;
const LINE_HEIGHT_PX: f64 = 20.0;
const PADDING_X_PX: f64 = 32.0;
const PADDING_Y_PX: f64 = 16.0;
const WIDTH_MIN_PX: f64 = 56.0;
const WIDTH_MAX_PX: f64 = 240.0;
const CENTRAL_SCALE: f64 = 1.25;

/// Whether `value` is a hex colour (`#rgb`, `#rrggbb`, `#rrggbbaa`): the only colours the app
/// puts in a style attribute, since any client may write any string in the document.
pub fn is_css_color(value: &str) -> bool {
    let digits = value.strip_prefix('#').unwrap_or("");
    matches!(digits.len(), 3 | 6 | 8) && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The palette branches take their colour from, in order, unless a node sets one.
pub const BRANCH_COLORS: [&str; 8] = [
    "#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Center,
    Right,
    Left,
}

/// A node with its place on the canvas; `x`, `y` are its centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: String,
    pub parent: Option<String>,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub side: Side,
    pub depth: usize,
    pub color: String,
    /// Children hidden because this node is collapsed.
    pub hidden_children: usize,
}

/// The laid-out map, in depth-first order from the central topic.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    /// Where each node is in `nodes`: finding a node's parent for each of 2,000 nodes by a
    /// scan was four million comparisons per keystroke.
    index: HashMap<String, usize>,
}

impl PartialEq for Layout {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl Layout {
    fn indexed(nodes: Vec<Placed>) -> Layout {
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        Layout { nodes, index }
    }

    pub fn get(&self, id: &str) -> Option<&Placed> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// The bounding box `(min_x, min_y, max_x, max_y)` of every node.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        self.nodes.iter().fold(
            (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
            |(x0, y0, x1, y1), n| {
                (
                    x0.min(n.x - n.width / 2.0),
                    y0.min(n.y - n.height / 2.0),
                    x1.max(n.x + n.width / 2.0),
                    y1.max(n.y + n.height / 2.0),
                )
            },
        )
    }
}

/// The size a node's text takes, estimated from its length (wrapping at `WIDTH_MAX_PX`).
pub fn node_size(text: &str, central: bool) -> (f64, f64) {
    let chars = text.chars().count().max(1) as f64;
    let text_width = chars * CHAR_WIDTH_PX;
    let inner_max = WIDTH_MAX_PX - PADDING_X_PX;
    let lines = (text_width / inner_max).ceil().max(1.0);
    let width = (text_width.min(inner_max) + PADDING_X_PX).max(WIDTH_MIN_PX);
    let height = lines * LINE_HEIGHT_PX + PADDING_Y_PX;
    if central {
        (width * CENTRAL_SCALE, height * CENTRAL_SCALE)
    } else {
        (width, height)
    }
}

pub fn layout(nodes: &[Node]) -> Layout {
    let by_id: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let Some(root) = by_id.get(CENTRAL_NODE_ID) else {
        return Layout::default();
    };
    let tree = Tree::resolve(nodes);
    let mut heights = HashMap::new();
    for node in nodes {
        subtree_height(&node.id, &tree, &by_id, &mut heights);
    }
    let (root_width, root_height) = node_size(&root.text, true);
    let mut out = Layout::default();
    out.nodes.push(Placed {
        id: root.id.clone(),
        parent: None,
        x: 0.0,
        y: 0.0,
        width: root_width,
        height: root_height,
        side: Side::Center,
        depth: 0,
        color: root
            .color
            .clone()
            .filter(|c| is_css_color(c))
            .unwrap_or_else(|| "#334155".into()),
        hidden_children: if root.collapsed {
            tree.children_of(CENTRAL_NODE_ID).len()
        } else {
            0
        },
    });
    if root.collapsed {
        return Layout::indexed(out.nodes);
    }
    let branches = tree.children_of(CENTRAL_NODE_ID);
    let total: f64 = branches
        .iter()
        .map(|b| heights[b.as_str()] + GAP_Y_PX)
        .sum();
    // Branches fill the right side in order until it holds half the height; the rest go left.
    let mut right = Vec::new();
    let mut left = Vec::new();
    let mut right_height = 0.0;
    for branch in branches {
        let h = heights[branch.as_str()] + GAP_Y_PX;
        if right.is_empty() || right_height + h / 2.0 <= total / 2.0 {
            right.push(branch);
            right_height += h;
        } else {
            left.push(branch);
        }
    }
    let ctx = Ctx {
        tree: &tree,
        by_id: &by_id,
        heights: &heights,
    };
    for (side, group) in [(Side::Right, &right), (Side::Left, &left)] {
        let group_height: f64 = group
            .iter()
            .map(|b| heights[b.as_str()] + GAP_Y_PX)
            .sum::<f64>()
            - GAP_Y_PX;
        let mut top = -group_height / 2.0;
        for branch in group.iter() {
            let index = branches.iter().position(|b| b == *branch).unwrap();
            let color = by_id[branch.as_str()]
                .color
                .clone()
                .filter(|c| is_css_color(c))
                .unwrap_or_else(|| BRANCH_COLORS[index % BRANCH_COLORS.len()].to_owned());
            let h = heights[branch.as_str()];
            let parent = (0.0, root_width);
            ctx.place(
                branch,
                CENTRAL_NODE_ID,
                parent,
                top + h / 2.0,
                side,
                1,
                &color,
                &mut out,
            );
            top += h + GAP_Y_PX;
        }
    }
    Layout::indexed(out.nodes)
}

struct Ctx<'a> {
    tree: &'a Tree,
    by_id: &'a HashMap<&'a str, &'a Node>,
    heights: &'a HashMap<String, f64>,
}

impl Ctx<'_> {
    /// Places `id` centred at height `y`, beside its parent (centre x, width), then its subtree.
    #[allow(clippy::too_many_arguments)]
    fn place(
        &self,
        id: &str,
        parent_id: &str,
        (parent_x, parent_width): (f64, f64),
        y: f64,
        side: Side,
        depth: usize,
        inherited_color: &str,
        out: &mut Layout,
    ) {
        let node = self.by_id[id];
        let (width, height) = node_size(&node.text, false);
        let direction = if side == Side::Left { -1.0 } else { 1.0 };
        let x = parent_x + direction * (parent_width / 2.0 + GAP_X_PX + width / 2.0);
        let color = node
            .color
            .clone()
            .filter(|c| is_css_color(c))
            .unwrap_or_else(|| inherited_color.to_owned());
        let children = self.tree.children_of(id);
        out.nodes.push(Placed {
            id: id.to_owned(),
            parent: Some(parent_id.to_owned()),
            x,
            y,
            width,
            height,
            side,
            depth,
            color: color.clone(),
            hidden_children: if node.collapsed { children.len() } else { 0 },
        });
        if node.collapsed || children.is_empty() {
            return;
        }
        let children_height: f64 = children
            .iter()
            .map(|c| self.heights[c.as_str()] + GAP_Y_PX)
            .sum::<f64>()
            - GAP_Y_PX;
        let mut top = y - children_height / 2.0;
        for child in children {
            let h = self.heights[child.as_str()];
            self.place(
                child,
                id,
                (x, width),
                top + h / 2.0,
                side,
                depth + 1,
                &color,
                out,
            );
            top += h + GAP_Y_PX;
        }
    }
}

fn subtree_height(
    id: &str,
    tree: &Tree,
    by_id: &HashMap<&str, &Node>,
    heights: &mut HashMap<String, f64>,
) -> f64 {
    if let Some(h) = heights.get(id) {
        return *h;
    }
    // Depth-first with an explicit stack: maps can be deep, and recursion depth is not ours
    // to choose in a browser.
    let mut stack = vec![(id.to_owned(), false)];
    while let Some((current, expanded)) = stack.pop() {
        if heights.contains_key(&current) {
            continue;
        }
        let node = by_id[current.as_str()];
        let children: &[String] = if node.collapsed {
            &[]
        } else {
            tree.children_of(&current)
        };
        if !expanded && children.iter().any(|c| !heights.contains_key(c)) {
            stack.push((current.clone(), true));
            stack.extend(children.iter().map(|c| (c.clone(), false)));
            continue;
        }
        let own = node_size(&node.text, current == CENTRAL_NODE_ID).1;
        let below: f64 = children
            .iter()
            .map(|c| heights[c.as_str()] + GAP_Y_PX)
            .sum::<f64>()
            - GAP_Y_PX;
        heights.insert(current, own.max(below));
    }
    heights[id]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>, order: f64, text: &str) -> Node {
        Node {
            id: id.into(),
            text: text.into(),
            parent: parent.map(Into::into),
            order,
            collapsed: false,
            color: None,
            author: String::new(),
            locked: false,
            on_behalf_of: None,
        }
    }

    fn overlaps(a: &Placed, b: &Placed) -> bool {
        (a.x - b.x).abs() < (a.width + b.width) / 2.0
            && (a.y - b.y).abs() < (a.height + b.height) / 2.0
    }

    #[test]
    fn branches_split_left_and_right_without_overlap() {
        let mut nodes = vec![node("root", None, 0.0, "Mobilités")];
        for b in 0..6 {
            let branch = format!("b{b}");
            nodes.push(node(
                &branch,
                Some("root"),
                b as f64,
                &format!("Branche {b}"),
            ));
            for c in 0..b {
                nodes.push(node(
                    &format!("{branch}c{c}"),
                    Some(&branch),
                    c as f64,
                    "Une idée un peu longue à écrire",
                ));
            }
        }
        let layout = layout(&nodes);
        assert_eq!(layout.nodes.len(), nodes.len());
        let right = layout
            .nodes
            .iter()
            .filter(|n| n.side == Side::Right && n.depth == 1)
            .count();
        let left = layout
            .nodes
            .iter()
            .filter(|n| n.side == Side::Left && n.depth == 1)
            .count();
        assert!(right > 0 && left > 0, "right {right}, left {left}");
        for (i, a) in layout.nodes.iter().enumerate() {
            for b in &layout.nodes[i + 1..] {
                assert!(!overlaps(a, b), "{} overlaps {}", a.id, b.id);
            }
        }
        // Children sit on their parent's side, farther out, and take its branch colour.
        for placed in &layout.nodes[1..] {
            let parent = layout.get(placed.parent.as_deref().unwrap()).unwrap();
            if parent.side != Side::Center {
                assert_eq!(placed.side, parent.side);
                assert!(placed.x.abs() > parent.x.abs());
                assert_eq!(placed.color, parent.color);
            }
        }
    }

    #[test]
    fn collapsed_nodes_hide_their_subtree_and_count_it() {
        let mut nodes = vec![
            node("root", None, 0.0, "R"),
            node("a", Some("root"), 0.0, "A"),
            node("a1", Some("a"), 0.0, "A1"),
            node("a2", Some("a"), 1.0, "A2"),
        ];
        nodes[1].collapsed = true;
        let layout = layout(&nodes);
        let ids: Vec<&str> = layout.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["root", "a"]);
        assert_eq!(layout.get("a").unwrap().hidden_children, 2);
    }

    #[test]
    fn only_hex_colours_reach_the_layout() {
        for (color, ok) in [
            ("#fff", true),
            ("#2563eb", true),
            ("#2563eb80", true),
            ("red", false),
            ("#12;}x", false),
            ("", false),
        ] {
            assert_eq!(is_css_color(color), ok, "{color:?}");
        }
        let mut nodes = vec![
            node("root", None, 0.0, "R"),
            node("a", Some("root"), 0.0, "A"),
        ];
        nodes[1].color = Some("red;background:url(x)".into());
        assert_eq!(layout(&nodes).get("a").unwrap().color, BRANCH_COLORS[0]);
    }

    #[test]
    fn a_map_without_its_central_topic_lays_out_nothing() {
        assert!(
            layout(&[node("x", Some("root"), 0.0, "x")])
                .nodes
                .is_empty()
        );
    }
}
