//! The plan `secops/detection/native.py` writes (JSON), read into dispatch trees and conditions.
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;
use serde_json::Value;

use super::value::Num;

pub enum Mode {
    Eq,
    Prefix,
    Suffix,
    Contains,
}

impl Mode {
    pub fn holds(&self, a: &str, b: &str) -> bool {
        match self {
            Mode::Eq => a == b,
            Mode::Prefix => a.starts_with(b),
            Mode::Suffix => a.ends_with(b),
            Mode::Contains => a.contains(b),
        }
    }
}

pub enum Op {
    Eq(HashSet<String, RandomState>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    Contains(AhoCorasick),
    Pattern { regex: Regex, required: String },
    Exists(bool),
    Null,
    Num { number: Num, text: String },
    Cmp { test: fn(Option<Ordering>) -> bool, number: Num },
    Bool(bool),
    Cidr { v6: bool, network: u128, mask: u128 },
    FieldRef(Mode),
    Py(usize),
}

pub struct Leaf {
    pub op: Op,
    /// `fields[0]`, kept inline: most leaves read one field, and this spares a pointer chase per leaf.
    pub slot: usize,
    pub fields: Vec<usize>,
    pub cased: bool,
}

pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Const(bool),
    Leaf(Leaf),
}

pub enum Index {
    Eq { slot: usize, children: HashMap<String, Tree, RandomState> },
    Present { slot: usize, child: Box<Tree> },
}

pub struct Tree {
    pub indexes: Vec<Index>,
    pub rules: Vec<(u32, Node)>,
}

impl Tree {
    /// Every field slot the tree reads.
    pub fn fields(&self, visit: &mut dyn FnMut(usize)) {
        for index in &self.indexes {
            match index {
                Index::Eq { slot, children } => {
                    visit(*slot);
                    children.values().for_each(|child| child.fields(visit));
                }
                Index::Present { slot, child } => {
                    visit(*slot);
                    child.fields(visit);
                }
            }
        }
        for (_, node) in &self.rules {
            node.fields(visit);
        }
    }
}

impl Node {
    fn fields(&self, visit: &mut dyn FnMut(usize)) {
        match self {
            Node::And(args) | Node::Or(args) => args.iter().for_each(|arg| arg.fields(visit)),
            Node::Not(arg) => arg.fields(visit),
            Node::Const(_) => {}
            Node::Leaf(leaf) => leaf.fields.iter().for_each(|slot| visit(*slot)),
        }
    }
}

pub struct Built {
    pub paths: Vec<String>,
    pub trees: Vec<(String, Tree)>,
    pub fallback_leaves: usize,
}

type Read<T> = Result<T, String>;

pub fn build(plan: &str, fallbacks: usize) -> Read<Built> {
    let plan: Value = serde_json::from_str(plan).map_err(|e| format!("plan is not JSON: {e}"))?;
    let paths: Vec<String> = plan["paths"]
        .as_array()
        .ok_or("plan has no paths")?
        .iter()
        .map(|p| p.as_str().map(str::to_string).ok_or("a path is not a string"))
        .collect::<Result<_, _>>()?;
    let mut reader = Reader {
        paths: paths.len(),
        fallbacks,
        fallback_leaves: 0,
    };
    let mut trees = Vec::new();
    for (name, tree) in plan["datasets"].as_object().ok_or("plan has no datasets")? {
        trees.push((name.clone(), reader.tree(tree)?));
    }
    Ok(Built {
        paths,
        trees,
        fallback_leaves: reader.fallback_leaves,
    })
}

struct Reader {
    paths: usize,
    fallbacks: usize,
    fallback_leaves: usize,
}

fn strings(value: &Value) -> Read<Vec<String>> {
    value
        .as_array()
        .ok_or("expected a list of strings")?
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| "expected a string".to_string()))
        .collect()
}

fn number(value: &Value) -> Read<Num> {
    if let Some(n) = value.as_i64() {
        return Ok(Num::Int(n as i128));
    }
    if let Some(n) = value.as_u64() {
        return Ok(Num::Int(n as i128));
    }
    value.as_f64().map(Num::Float).ok_or_else(|| format!("not a number: {value}"))
}

fn wide(value: &Value) -> Read<u128> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an integer string: {value}"))
}

impl Reader {
    fn slot(&self, value: &Value) -> Read<usize> {
        let slot = value.as_u64().ok_or("a slot is not an integer")? as usize;
        if slot >= self.paths {
            return Err(format!("slot {slot} out of range"));
        }
        Ok(slot)
    }

    fn tree(&mut self, value: &Value) -> Read<Tree> {
        let mut indexes = Vec::new();
        for index in value["indexes"].as_array().ok_or("tree without indexes")? {
            let slot = self.slot(&index[1])?;
            match index[0].as_str() {
                Some("eq") => {
                    let mut children = HashMap::default();
                    for (key, child) in index[2].as_object().ok_or("eq index without children")? {
                        children.insert(key.clone(), self.tree(child)?);
                    }
                    indexes.push(Index::Eq { slot, children });
                }
                Some("present") => indexes.push(Index::Present {
                    slot,
                    child: Box::new(self.tree(&index[2])?),
                }),
                other => return Err(format!("unknown index kind {other:?}")),
            }
        }
        let mut rules = Vec::new();
        for rule in value["rules"].as_array().ok_or("tree without rules")? {
            let number = rule[0].as_u64().ok_or("rule index is not an integer")? as u32;
            rules.push((number, self.node(&rule[1])?));
        }
        Ok(Tree { indexes, rules })
    }

    fn node(&mut self, value: &Value) -> Read<Node> {
        let args = |this: &mut Reader| -> Read<Vec<Node>> {
            value[1]
                .as_array()
                .ok_or("and/or without arguments")?
                .iter()
                .map(|arg| this.node(arg))
                .collect()
        };
        match value[0].as_str() {
            Some("and") => Ok(Node::And(args(self)?)),
            Some("or") => Ok(Node::Or(args(self)?)),
            Some("not") => Ok(Node::Not(Box::new(self.node(&value[1])?))),
            Some("const") => Ok(Node::Const(value[1].as_bool().ok_or("const is not a boolean")?)),
            Some("leaf") => Ok(Node::Leaf(self.leaf(&value[1])?)),
            other => Err(format!("unknown node {other:?}")),
        }
    }

    fn fallback(&mut self, value: &Value) -> Read<Op> {
        let index = value["py"].as_u64().ok_or("leaf without a Python fallback")? as usize;
        if index >= self.fallbacks {
            return Err(format!("fallback {index} out of range"));
        }
        self.fallback_leaves += 1;
        Ok(Op::Py(index))
    }

    fn leaf(&mut self, value: &Value) -> Read<Leaf> {
        let fields = value["fields"]
            .as_array()
            .ok_or("leaf without fields")?
            .iter()
            .map(|slot| self.slot(slot))
            .collect::<Read<Vec<usize>>>()?;
        if fields.is_empty() {
            return Err("leaf without fields".into());
        }
        let cased = value["cased"].as_bool().unwrap_or(false);
        let op = match value["op"].as_str().ok_or("leaf without op")? {
            "eq" => Op::Eq(strings(&value["values"])?.into_iter().collect()),
            "prefix" => Op::Prefix(strings(&value["values"])?),
            "suffix" => Op::Suffix(strings(&value["values"])?),
            "contains" => Op::Contains(
                // a DFA: the fastest search, and the rule sets' needle lists are small
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(strings(&value["values"])?)
                    .map_err(|e| format!("substring set: {e}"))?,
            ),
            "pattern" => match value["pattern"].as_str().map(Regex::new) {
                Some(Ok(regex)) => Op::Pattern {
                    regex,
                    required: value["required"].as_str().unwrap_or("").to_string(),
                },
                _ => self.fallback(value)?,
            },
            "exists" => Op::Exists(value["value"].as_bool().ok_or("exists without value")?),
            "null" => Op::Null,
            "num" => Op::Num {
                number: number(&value["number"])?,
                text: value["text"].as_str().ok_or("num without text")?.to_string(),
            },
            "cmp" => Op::Cmp {
                test: match value["cmp"].as_str() {
                    Some("lt") => |o| o == Some(Ordering::Less),
                    Some("lte") => |o| matches!(o, Some(Ordering::Less | Ordering::Equal)),
                    Some("gt") => |o| o == Some(Ordering::Greater),
                    Some("gte") => |o| matches!(o, Some(Ordering::Greater | Ordering::Equal)),
                    Some("neq") => |o| o != Some(Ordering::Equal),
                    other => return Err(format!("unknown comparison {other:?}")),
                },
                number: number(&value["number"])?,
            },
            "bool" => Op::Bool(value["value"].as_bool().ok_or("bool without value")?),
            "cidr" => Op::Cidr {
                v6: value["v6"].as_bool().ok_or("cidr without version")?,
                network: wide(&value["network"])?,
                mask: wide(&value["mask"])?,
            },
            "fieldref" => {
                if fields.len() != 2 {
                    return Err("fieldref needs two fields".into());
                }
                Op::FieldRef(match value["mode"].as_str() {
                    Some("eq") => Mode::Eq,
                    Some("prefix") => Mode::Prefix,
                    Some("suffix") => Mode::Suffix,
                    Some("contains") => Mode::Contains,
                    other => return Err(format!("unknown fieldref mode {other:?}")),
                })
            }
            "py" => self.fallback(value)?,
            other => return Err(format!("unknown leaf op {other:?}")),
        };
        Ok(Leaf { op, slot: fields[0], fields, cased })
    }
}
