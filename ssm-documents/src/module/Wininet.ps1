# Concern: WinINet proxy settings of the account (or the machine): the DefaultConnectionSettings codec and entry.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

$script:BpBlobFlags = @{ Direct = 1; Proxy = 2; AutoProxyUrl = 4; AutoDetect = 8 }
$script:BpBlobVersion = 0x46
$script:BpBlobMinVersion = 60

# Layout: version, counter, flags (DWORD LE each), then proxy server, bypass list and auto-config URL as
# (DWORD byte length, bytes without terminator), then a tail that is kept as it was (zeros for a new blob).
function ConvertFrom-BpConnectionBlob([byte[]]$Bytes) {
    if ($null -eq $Bytes -or $Bytes.Length -lt 12) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings is shorter than its 12-byte header') }
    $position = 12
    $strings = New-Object System.Collections.ArrayList
    for ($index = 0; $index -lt 3; $index++) {
        if ($position + 4 -gt $Bytes.Length) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings ends inside a string length') }
        $length = [System.BitConverter]::ToInt32($Bytes, $position)
        $position += 4
        if ($length -lt 0 -or $position + $length -gt $Bytes.Length) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings has a string longer than the blob') }
        [void]$strings.Add([System.Text.Encoding]::ASCII.GetString($Bytes, $position, $length))
        $position += $length
    }
    $tail = New-Object byte[] ($Bytes.Length - $position)
    [System.Array]::Copy($Bytes, $position, $tail, 0, $tail.Length)
    return [ordered]@{
        version       = [System.BitConverter]::ToInt32($Bytes, 0)
        counter       = [System.BitConverter]::ToUInt32($Bytes, 4)
        flags         = [System.BitConverter]::ToInt32($Bytes, 8)
        proxyServer   = $strings[0]
        bypass        = $strings[1]
        autoConfigUrl = $strings[2]
        tail          = [System.Convert]::ToBase64String($tail)
    }
}

function ConvertTo-BpConnectionBlob($Settings) {
    $stream = New-Object System.IO.MemoryStream
    $writer = New-Object System.IO.BinaryWriter($stream)
    $writer.Write([int]$Settings.version)
    $writer.Write([uint32]$Settings.counter)
    $writer.Write([int]$Settings.flags)
    foreach ($text in @($Settings.proxyServer, $Settings.bypass, $Settings.autoConfigUrl)) {
        $bytes = [System.Text.Encoding]::ASCII.GetBytes([string]$text)
        $writer.Write([int]$bytes.Length)
        $writer.Write($bytes)
    }
    # A decoded blob keeps its tail as it was (even none); a new one gets the 32 zero bytes writers use.
    if ($Settings.Contains('tail') -and $null -ne $Settings.tail) { $writer.Write([System.Convert]::FromBase64String([string]$Settings.tail)) } else { $writer.Write((New-Object byte[] 32)) }
    $writer.Flush()
    return , $stream.ToArray()
}

# The blob WinINet should hold: proxy on, direct kept, no auto-config URL, auto-detect as it was (on for a
# new blob, as Windows creates a connection), counter + 1.
function New-BpConnectionSettings($Current, $Desired) {
    $version = $script:BpBlobVersion
    $counter = [uint32]1
    $autoDetect = $script:BpBlobFlags.AutoDetect
    $tail = $null
    if ($null -ne $Current) {
        if ($Current.version -ge $script:BpBlobMinVersion) { $version = $Current.version }
        $counter = [uint32](([long]$Current.counter + 1) % 4294967296)
        $autoDetect = $Current.flags -band $script:BpBlobFlags.AutoDetect
        $tail = $Current.tail
    }
    return [ordered]@{
        version = $version; counter = $counter
        flags = $script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy -bor $autoDetect
        proxyServer = $Desired.proxyServer; bypass = $Desired.bypass; autoConfigUrl = ''; tail = $tail
    }
}

# The Internet Settings keys a desired state writes: the account's hive, or in machine scope the 64-bit key
# and, on 64-bit Windows, its WOW6432Node view (the 32-bit beacon reads that one).
function Get-BpWininetPaths($State, [string]$Sid) {
    if ($State.wininet.scope -eq 'machine') {
        $keys = @($script:BpFacts.wininetMachineKeys)
        $views = @([ordered]@{ prefix = 'wininet'; settings = $keys[0]; hive = $null })
        if (Test-BpRegistryKey 'HKLM\SOFTWARE\WOW6432Node') { $views += [ordered]@{ prefix = 'wininet32'; settings = $keys[1]; hive = $null } }
        return $views
    }
    return [ordered]@{ prefix = 'wininet'; settings = 'HKU\' + $Sid + '\' + $script:BpFacts.wininetUserKey; hive = $Sid }
}

# The WinINet entries of one Internet Settings key: the plain values and both connection blobs, in agreement.
function New-BpWininetEntries($State, $View) {
    $bypass = @($State.wininet.bypass) -join ';'
    $override = $null
    if ($bypass) { $override = [ordered]@{ type = 'String'; data = $bypass } }
    $blob = [ordered]@{ proxyServer = $State.wininet.proxyServer; bypass = $bypass; autoConfigUrl = '' }
    $prefix = $View.prefix + ':'
    $entries = @(
        (New-BpEntry ($prefix + 'ProxyEnable') 'registry' ([ordered]@{ type = 'DWord'; data = 1 }) @{ path = $View.settings; name = 'ProxyEnable' }),
        (New-BpEntry ($prefix + 'ProxyServer') 'registry' ([ordered]@{ type = 'String'; data = $State.wininet.proxyServer }) @{ path = $View.settings; name = 'ProxyServer' }),
        (New-BpEntry ($prefix + 'ProxyOverride') 'registry' $override @{ path = $View.settings; name = 'ProxyOverride' }),
        (New-BpEntry ($prefix + 'AutoConfigURL') 'registry' $null @{ path = $View.settings; name = 'AutoConfigURL' }),
        (New-BpEntry ($prefix + 'DefaultConnectionSettings') 'blob' $blob @{ path = $View.settings + '\Connections'; name = 'DefaultConnectionSettings' }),
        (New-BpEntry ($prefix + 'SavedLegacySettings') 'blob' $blob @{ path = $View.settings + '\Connections'; name = 'SavedLegacySettings' })
    )
    foreach ($entry in $entries) { $entry.hive = $View.hive }
    return , $entries
}

function Get-BpBlobEntry($Entry) {
    $value = Get-BpRegistryValue $Entry.path $Entry.name
    if ($null -eq $value) { return $null }
    return $value.data
}

# $Exact (rollback): the captured blob, counter aside (a restore writes counter + 1 so WinINet sees it).
function Test-BpBlobEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Actual)) } catch { return ($Exact -and [string]$Actual -ceq [string]$Expected) }
    if ($Exact) {
        try { $captured = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Expected)) } catch { return ([string]$Actual -ceq [string]$Expected) }
        foreach ($field in @('version', 'flags', 'proxyServer', 'bypass', 'autoConfigUrl', 'tail')) { if ([string]$blob[$field] -cne [string]$captured[$field]) { return $false } }
        return $true
    }
    $mask = $script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy -bor $script:BpBlobFlags.AutoProxyUrl
    return ($blob.version -ge $script:BpBlobMinVersion -and ($blob.flags -band $mask) -eq ($script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy) -and
        $blob.proxyServer -ceq $Expected.proxyServer -and $blob.bypass -ceq $Expected.bypass -and $blob.autoConfigUrl -ceq '')
}

function Set-BpBlobEntry($Entry, $Value, [bool]$Restore) {
    if ($null -eq $Value) { Remove-BpRegistryValue $Entry.path $Entry.name; return }
    $current = $null
    $raw = Get-BpBlobEntry $Entry
    if ($null -ne $raw) { try { $current = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($raw)) } catch { $current = $null } }
    if ($Restore) {
        # The captured settings with counter = current + 1: WinINet notices a change by the counter.
        $bytes = [System.Convert]::FromBase64String([string]$Value)
        try {
            $captured = ConvertFrom-BpConnectionBlob $bytes
            $captured.counter = [uint32]1
            if ($null -ne $current) { $captured.counter = [uint32](([long]$current.counter + 1) % 4294967296) }
            $bytes = ConvertTo-BpConnectionBlob $captured
        } catch { }
        Set-BpRegistryValue $Entry.path $Entry.name 'Binary' ([System.Convert]::ToBase64String($bytes))
        return
    }
    $bytes = ConvertTo-BpConnectionBlob (New-BpConnectionSettings $current $Value)
    Set-BpRegistryValue $Entry.path $Entry.name 'Binary' ([System.Convert]::ToBase64String($bytes))
}

function Format-BpBlob($Raw) {
    if ($null -eq $Raw) { return $null }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Raw)) } catch { return 'invalid blob' }
    return [ordered]@{ flags = $blob.flags; proxyServer = $blob.proxyServer; bypass = $blob.bypass; autoConfigUrl = $blob.autoConfigUrl }
}

# Decoded connection settings for people: `flags direct+proxy+auto-detect, proxy p:8080, bypass a;<local>, auto-config URL none`.
function Format-BpConnectionSettings($Settings) {
    $flags = New-Object System.Collections.ArrayList
    foreach ($flag in @(@('Direct', 'direct'), @('Proxy', 'proxy'), @('AutoProxyUrl', 'auto-config'), @('AutoDetect', 'auto-detect'))) {
        if ([int]$Settings.flags -band $script:BpBlobFlags[$flag[0]]) { [void]$flags.Add($flag[1]) }
    }
    $flagText = 'none'
    if ($flags.Count -gt 0) { $flagText = $flags -join '+' }
    $show = { param($text) if ($text) { [string]$text } else { 'none' } }
    return ('flags ' + $flagText + ', proxy ' + (& $show $Settings.proxyServer) + ', bypass ' + (& $show $Settings.bypass) + ', auto-config URL ' + (& $show $Settings.autoConfigUrl))
}

# A blob as read (base64), or the settings a run writes, for people; `absent` when there is none.
function Format-BpBlobValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    if ($Value -is [string]) {
        $bytes = $null
        try { $bytes = [System.Convert]::FromBase64String($Value) } catch { return 'invalid blob' }
        try { return Format-BpConnectionSettings (ConvertFrom-BpConnectionBlob $bytes) } catch { return ('invalid blob (' + $bytes.Length + ' bytes)') }
    }
    return Format-BpConnectionSettings $Value
}
