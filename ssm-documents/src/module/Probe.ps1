# The endpoint probe: one request to FNMS through the proxy the desired state configures, picked by the
# URL's scheme from the WinINet ProxyServer (host:port, or http=...;https=... per protocol).
# Runs on Windows PowerShell 5.1 and PowerShell 7 (HttpWebRequest exists on both).

function Select-BpProxyForUrl([string]$ProxyServer, [string]$Url) {
    $scheme = ([System.Uri]$Url).Scheme.ToLowerInvariant()
    $plain = $null
    foreach ($part in @($ProxyServer -split ';')) {
        $item = $part.Trim()
        if (-not $item) { continue }
        if ($item -match '^([A-Za-z]+)=(.+)$') { if ($Matches[1].ToLowerInvariant() -eq $scheme) { return $Matches[2] } }
        elseif ($null -eq $plain) { $plain = $item }
    }
    return $plain
}

function Invoke-BpEndpointProbe([string]$Url, [string]$ProxyServer) {
    $hostPort = Select-BpProxyForUrl $ProxyServer $Url
    if (-not $hostPort) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = ('no proxy for ' + ([System.Uri]$Url).Scheme); proxy = $ProxyServer } }
    $address = Get-BpProxyEndpoint $hostPort
    $response = $null
    try {
        $request = [System.Net.WebRequest]::Create($Url)
        $request.Method = 'GET'
        $request.Timeout = 20000
        $request.Proxy = New-Object System.Net.WebProxy(('http://' + $address), $false)
        $response = $request.GetResponse()
        return [ordered]@{ ok = $true; status = [int]$response.StatusCode; proxy = $hostPort }
    } catch {
        # An HTTP error status from FNMS still proves the path through the proxy works. No answer at all does
        # not, nor does the proxy's own refusal (407) or its 502/503/504 (it could not reach FNMS).
        $exception = $_.Exception
        while ($null -ne $exception -and -not ($exception -is [System.Net.WebException])) { $exception = $exception.InnerException }
        if ($null -ne $exception -and $null -ne $exception.Response) {
            $status = [int]$exception.Response.StatusCode
            $exception.Response.Close()
            if ($status -eq 407) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = 'the proxy refused the beacon (407)'; proxy = $hostPort } }
            if ($status -ge 500) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = ('HTTP ' + $status); proxy = $hostPort } }
            return [ordered]@{ ok = $true; status = $status; proxy = $hostPort }
        }
        return [ordered]@{ ok = $false; status = 'unreachable'; detail = 'no answer through the proxy'; proxy = $hostPort }
    } finally { if ($null -ne $response) { $response.Close() } }
}
