//! `aws_enum!`: an enum of AWS wire names (`KeySpec`, `SigningAlgorithmSpec`, …) with `ALL`,
//! `as_aws`, `from_aws` and `Display`.

macro_rules! aws_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $aws:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in AWS's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name AWS uses on the wire.
            pub fn as_aws(&self) -> &'static str {
                match self { $($name::$variant => $aws),+ }
            }

            /// Parses AWS's wire name.
            pub fn from_aws(s: &str) -> Option<Self> {
                match s { $($aws => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_aws())
            }
        }
    };
}
