# Marked blocks in shared files (.bashrc, sshd_config): "# >>> mpimg:<id> >>>" ... "# <<< mpimg:<id> <<<".
# head/tail keep every other byte as it was, including a missing final newline.

# Prints "START END" (line numbers of the two markers) or returns 1.
mpimg_block_lines() {
  _mb_s=$(grep -n -x -F -e "# >>> mpimg:$2 >>>" "$1" 2>/dev/null | head -n 1 | cut -d: -f1)
  [ -n "$_mb_s" ] || return 1
  _mb_e=$(tail -n "+$_mb_s" "$1" | grep -n -x -F -e "# <<< mpimg:$2 <<<" | head -n 1 | cut -d: -f1)
  [ -n "$_mb_e" ] || return 1
  printf '%s %s\n' "$_mb_s" "$((_mb_s + _mb_e - 1))"
}

# mpimg_block_remove FILE ID: removes the block, keeping every other byte and the file's mode.
mpimg_block_remove() {
  [ -f "$1" ] || return 0
  _mb_l=$(mpimg_block_lines "$1" "$2") || return 0
  _mb_tmp="$1.mpimg-tmp"
  { head -n "$((${_mb_l% *} - 1))" "$1"; tail -n "+$((${_mb_l#* } + 1))" "$1"; } > "$_mb_tmp"
  chmod "$(stat -c %a "$1")" "$_mb_tmp"
  mv -f "$_mb_tmp" "$1"
}
